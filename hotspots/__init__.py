"""hotspots: find where serious violence concentrates, and plan and evaluate patrols there.

The engine: geography (projection, H3 cells, areas, periods), the offence vocabulary and harm
weights, ingest and the incident store, cell aggregation, the synthetic city, and the CLI.
It never imports ``api`` or ``maps``.
"""

__version__ = "0.1.0"
