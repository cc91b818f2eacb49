"""The FastAPI service: one router per user job, auth, audit. Built by the API issue."""
