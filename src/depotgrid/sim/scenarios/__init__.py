"""Scenario Control Service (design §5): presets, time-bounded overrides, expectations and
forecast plans."""
