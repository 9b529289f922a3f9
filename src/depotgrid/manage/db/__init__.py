"""manage's database: metadata, engine and migrations."""
