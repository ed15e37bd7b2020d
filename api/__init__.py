"""The FastAPI service (see the service issue)."""
