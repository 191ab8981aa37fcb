"""Ingestion: landed files → typed Common Data Model entities, with a quarantine for what cannot be read."""
