"""Randomised Targeted Guardian Patrol rosters: resources, risk profiles, dosage, scheduling, exports."""

from hotspots.patrol.profile import hour_of_week_profiles
from hotspots.patrol.resources import PatrolResources
from hotspots.patrol.roster import Roster, assign_npus, patrol_roster, read_arms

__all__ = ["PatrolResources", "Roster", "assign_npus", "hour_of_week_profiles", "patrol_roster", "read_arms"]
