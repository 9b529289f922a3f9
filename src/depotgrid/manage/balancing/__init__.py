"""Load balancing: charger power allocated under every circuit limit, one cycle at a time."""
