"""Folium maps of hotspots: the commander's weekly map, self-contained and readable offline."""

from maps.weekly import weekly_map, write_map

__all__ = ["weekly_map", "write_map"]
