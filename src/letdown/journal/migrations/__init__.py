"""Alembic migrations of the journal, run by ``letdown.journal.db`` (never at import)."""
