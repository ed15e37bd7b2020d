"""Alembic migrations of the service's database (``evac db upgrade``)."""
