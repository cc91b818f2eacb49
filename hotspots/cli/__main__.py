"""``python -m hotspots.cli``."""

from hotspots.cli import run

run()
