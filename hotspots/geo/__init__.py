"""Geography and time: projections, H3 cells, named areas and tactical periods."""
