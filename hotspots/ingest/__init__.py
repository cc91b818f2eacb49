"""Ingest: read incident files, normalise them, and store each file as one all-or-nothing batch."""

from hotspots.ingest.load import LoadReport, ingest_file, ingest_files

__all__ = ["LoadReport", "ingest_file", "ingest_files"]
