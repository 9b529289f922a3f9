"""A simulation configuration document and its invariants (design §3, §4 "Simulation
Configuration Aggregate").

The document is what one version stores: topology (a rooted, acyclic tree of electrical nodes),
managed scopes (named boundaries, each on an existing node), projection bindings (today the
`OscpCapacityProviderBinding`: default group_id, measurement mode and scenario preset of one
scope) and scenario presets (named sets of time-bounded overrides).

`check(document)` returns every broken invariant as a FieldError whose field is the JSON path
of the offender and whose reason names the node, scope or preset, so a 422 says exactly what
to fix. Shape errors (wrong types, unknown fields) are pydantic's, reported the same way by the
API edge.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from depotgrid.oscp.enums import MeasurementConfiguration
from depotgrid.sim.errors import FieldError
from depotgrid.sim.scenarios.overrides import check_override_spec
from depotgrid.sim.scenarios.presets import BUILTIN_PRESETS, ScenarioPreset

Name = Annotated[str, Field(min_length=1, max_length=200)]
Ident = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:@/-]+$")]


class NodeKind(StrEnum):
    SITE = "SITE"
    GRID_CONNECTION = "GRID_CONNECTION"
    TRANSFORMER = "TRANSFORMER"
    SWITCHBOARD = "SWITCHBOARD"
    CIRCUIT = "CIRCUIT"
    CHARGER = "CHARGER"
    METER = "METER"
    STORAGE = "STORAGE"
    GENERATION = "GENERATION"
    LOAD = "LOAD"


class MeasurementPublicationMode(StrEnum):
    GROUP = "GROUP"
    """The FP publishes UpdateGroupMeasurements."""
    ASSET = "ASSET"
    """The FP publishes UpdateAssetMeasurements (the `vector` partner profile)."""


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TopologyNode(_Doc):
    id: Ident
    parent_id: Ident | None = None
    kind: NodeKind
    name: str | None = Field(default=None, max_length=200)
    rating_kw: float | None = Field(default=None, ge=0, description="Import limit of the node.")
    base_load_kw: float = Field(default=0.0, ge=0, description="The node's own load at start.")


class Topology(_Doc):
    nodes: list[TopologyNode] = Field(min_length=1, max_length=5000)


class ManagedScope(_Doc):
    id: Ident
    node_id: Ident
    name: str | None = Field(default=None, max_length=200)


class OscpCapacityProviderBinding(_Doc):
    """The OSCP Capacity Provider projection's defaults for one managed scope (§3)."""

    kind: Literal["OSCP_CAPACITY_PROVIDER"] = "OSCP_CAPACITY_PROVIDER"
    managed_scope_id: Ident
    group_id: Ident
    measurement_publication_mode: MeasurementPublicationMode = MeasurementPublicationMode.GROUP
    measurement_configuration: list[MeasurementConfiguration] = Field(
        default_factory=lambda: [MeasurementConfiguration.INTERMITTENT]
    )
    default_scenario_preset: Name = "connected_baseline"


class SimulationConfigurationDocument(_Doc):
    name: Name
    description: str = Field(default="", max_length=2000)
    topology: Topology
    managed_scopes: list[ManagedScope] = Field(default_factory=list, max_length=1000)
    projection_bindings: list[OscpCapacityProviderBinding] = Field(
        default_factory=list, max_length=1000
    )
    scenario_presets: list[ScenarioPreset] = Field(default_factory=list, max_length=100)

    def node(self, node_id: str) -> TopologyNode | None:
        return next((n for n in self.topology.nodes if n.id == node_id), None)

    def scope(self, scope_id: str) -> ManagedScope | None:
        return next((s for s in self.managed_scopes if s.id == scope_id), None)

    def oscp_binding(self, scope_id: str) -> OscpCapacityProviderBinding | None:
        return next((b for b in self.projection_bindings if b.managed_scope_id == scope_id), None)

    def preset(self, name: str) -> ScenarioPreset | None:
        """A preset by name: the configuration's own first, then the built-in ones."""
        own = next((p for p in self.scenario_presets if p.name == name), None)
        return own or BUILTIN_PRESETS.get(name)

    def preset_names(self) -> list[str]:
        return sorted({*BUILTIN_PRESETS, *(p.name for p in self.scenario_presets)})


def check(document: SimulationConfigurationDocument) -> list[FieldError]:
    """Every broken invariant of the document; empty when it may be saved."""
    return [
        *_check_topology(document.topology),
        *_check_scopes(document),
        *_check_bindings(document),
        *_check_presets(document),
    ]


def _check_topology(topology: Topology) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    for index, node in enumerate(topology.nodes):
        if node.id in seen:
            errors.append(
                FieldError(
                    f"topology.nodes[{index}].id",
                    f"node id '{node.id}' is used twice (first at topology.nodes[{seen[node.id]}])",
                )
            )
        else:
            seen[node.id] = index
    roots = [i for i, node in enumerate(topology.nodes) if node.parent_id is None]
    if not roots:
        errors.append(
            FieldError("topology.nodes", "the topology has no root: give one node parent_id null")
        )
    for index in roots[1:]:
        node = topology.nodes[index]
        first = topology.nodes[roots[0]].id
        errors.append(
            FieldError(
                f"topology.nodes[{index}].parent_id",
                f"node '{node.id}' is a second root (the root is '{first}'); give it a parent",
            )
        )
    parents = {node.id: node.parent_id for node in topology.nodes}
    for index, node in enumerate(topology.nodes):
        if node.parent_id is not None and node.parent_id not in parents:
            errors.append(
                FieldError(
                    f"topology.nodes[{index}].parent_id",
                    f"node '{node.id}' names parent '{node.parent_id}', which does not exist",
                )
            )
        if node.parent_id == node.id:
            errors.append(
                FieldError(
                    f"topology.nodes[{index}].parent_id", f"node '{node.id}' is its own parent"
                )
            )
    reported: set[str] = set()
    for index, node in enumerate(topology.nodes):
        cycle = _cycle_from(node.id, parents)
        if cycle and node.id not in reported and node.parent_id != node.id:
            reported.update(cycle)
            path = " -> ".join([*cycle, cycle[0]])
            errors.append(
                FieldError(
                    f"topology.nodes[{index}].parent_id",
                    f"node '{node.id}' is in a cycle ({path}); the topology must be a tree",
                )
            )
    return errors


def _cycle_from(start: str, parents: dict[str, str | None]) -> list[str]:
    """The cycle `start` is on, in parent order; empty if following parents reaches a root."""
    path: list[str] = []
    position: dict[str, int] = {}
    current: str | None = start
    while current is not None and current in parents:
        if current in position:
            cycle = path[position[current] :]
            return cycle if start in cycle else []
        position[current] = len(path)
        path.append(current)
        current = parents[current]
    return []


def _check_scopes(document: SimulationConfigurationDocument) -> list[FieldError]:
    errors: list[FieldError] = []
    node_ids = {node.id for node in document.topology.nodes}
    seen: set[str] = set()
    for index, scope in enumerate(document.managed_scopes):
        if scope.id in seen:
            errors.append(
                FieldError(f"managed_scopes[{index}].id", f"scope id '{scope.id}' is used twice")
            )
        seen.add(scope.id)
        if scope.node_id not in node_ids:
            errors.append(
                FieldError(
                    f"managed_scopes[{index}].node_id",
                    f"scope '{scope.id}' references node '{scope.node_id}', which does not exist",
                )
            )
    return errors


def _check_bindings(document: SimulationConfigurationDocument) -> list[FieldError]:
    errors: list[FieldError] = []
    scope_ids = {scope.id for scope in document.managed_scopes}
    bound: set[str] = set()
    presets = set(document.preset_names())
    for index, binding in enumerate(document.projection_bindings):
        where = f"projection_bindings[{index}]"
        if binding.managed_scope_id not in scope_ids:
            errors.append(
                FieldError(
                    f"{where}.managed_scope_id",
                    f"binding targets scope '{binding.managed_scope_id}', which does not exist",
                )
            )
        if binding.managed_scope_id in bound:
            errors.append(
                FieldError(
                    f"{where}.managed_scope_id",
                    f"scope '{binding.managed_scope_id}' already has an OSCP binding",
                )
            )
        bound.add(binding.managed_scope_id)
        if binding.default_scenario_preset not in presets:
            errors.append(
                FieldError(
                    f"{where}.default_scenario_preset",
                    f"preset '{binding.default_scenario_preset}' does not exist; "
                    f"choose one of {', '.join(sorted(presets))}",
                )
            )
        if len(set(binding.measurement_configuration)) != len(binding.measurement_configuration):
            errors.append(
                FieldError(
                    f"{where}.measurement_configuration", "measurement configurations must differ"
                )
            )
    return errors


def _check_presets(document: SimulationConfigurationDocument) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, preset in enumerate(document.scenario_presets):
        if preset.name in seen:
            errors.append(
                FieldError(
                    f"scenario_presets[{index}].name", f"preset '{preset.name}' is defined twice"
                )
            )
        seen.add(preset.name)
        for number, spec in enumerate(preset.overrides):
            errors.extend(
                check_override_spec(spec, f"scenario_presets[{index}].overrides[{number}]")
            )
    return errors
