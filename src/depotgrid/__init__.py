"""depotgrid: energy management for electric-fleet depots, and the simulator that tests it."""
