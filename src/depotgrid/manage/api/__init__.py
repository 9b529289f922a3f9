"""manage's JSON API under /api."""
