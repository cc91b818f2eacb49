"""Ingest: read incident files in any supported layout and normalise them (ids, times, places, offences, harm).

Storing them, one all-or-nothing batch per file, is :mod:`hotspots.services.ingest`.
"""
