"""Operating envelopes: protocol-agnostic limits on a managed scope over time (COR-19)."""
