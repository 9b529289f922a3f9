"""depotgrid sim: the reference depot simulator (design: ../shared/spec/depot-sim-system-design.md).

One simulation world (configurations, runs with a logical clock, world state per node) with
protocol projections over it; today the OSCP 2.0 Capacity Provider projection. It talks to
manage only over published interfaces and never imports `depotgrid.manage`.

    configuration/   versioned configurations: topology, managed scopes, bindings, presets (§3-5)
    runtime/         runs, logical clock, world state, SimulationRuntimePort (§3-5)
    scenarios/       overrides, presets, expectations, forecast plans (§5 Scenario Control)
    projections/     oscp_cp/: the OSCP Capacity Provider service (§5, §7, §9, §10)
    api/             control and inspection API (§7)
    web/             the simulator UI
    db/              its own database, MetaData and Alembic migrations (alembic_version_sim)
"""
