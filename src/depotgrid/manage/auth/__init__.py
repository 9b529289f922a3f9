"""Users, roles, permissions, API tokens and sessions."""
