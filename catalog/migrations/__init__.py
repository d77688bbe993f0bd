"""Alembic migrations of the catalog store (run by ``catalog.db.upgrade``)."""
