"""The legacy depot model: depots, the circuit tree, chargers, power sources and devices."""
