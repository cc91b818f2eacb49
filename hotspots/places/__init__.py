"""Hotspots as places: selection, geofences, Gi*, emerging trends, coverage, the weekly set and its exports."""
