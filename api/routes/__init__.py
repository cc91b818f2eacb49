"""One router per user job."""
