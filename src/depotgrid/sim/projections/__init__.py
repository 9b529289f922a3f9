"""Protocol projections over the simulation world; each reads the world through the runtime port."""
