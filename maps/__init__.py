"""Maps: the commander's weekly Folium map and the tasking board's printable patrol briefings, all offline."""

from maps.briefing import write_briefings
from maps.weekly import weekly_map, write_map

__all__ = ["weekly_map", "write_briefings", "write_map"]
