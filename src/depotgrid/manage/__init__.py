"""manage: the depot energy management service."""
