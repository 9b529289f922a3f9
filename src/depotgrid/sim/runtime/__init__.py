"""Simulation runtime: runs, the logical clock, world state, and the port projections read."""
