"""Use cases, one module per user job; the CLI, the API and the web pages call only these.

Each function takes a store and plain arguments, reads the store, calls the engine and the
models, writes the store (and the audit log), and returns plain results or engine types.
``ingest`` (incident files into the store, stored incidents read back), ``weekly`` (hotspot
sets, their maps and engagement plans), ``rosters`` (issued patrol rosters), ``trials``
(allocations, GPS logs, dosage and evaluation), ``models`` (the registry and forecasts).
"""
