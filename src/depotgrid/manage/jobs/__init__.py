"""Background work on the injected clock: envelope boundaries, rebalance timers, later OSCP."""
