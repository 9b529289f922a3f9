"""manage's operator UI: server-rendered Jinja2 pages enhanced with htmx."""
