"""Folium rendering of surfaces, hotspots and rosters. Built by the weekly-hotspots issue."""
