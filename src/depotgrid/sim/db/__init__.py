"""sim's own database: engine, tables, migrations (version table `alembic_version_sim`)."""
