"""The append-only event store and the projections read from it."""
