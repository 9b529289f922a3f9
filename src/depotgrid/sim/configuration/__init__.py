"""Simulation Configuration Service (design §3-§5, §8): versioned depot definitions."""
