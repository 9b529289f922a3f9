"""The four things that live in a depot's circuit tree, described once for the generic pages.

Each `EntityKind` names its URL segment, its form fields and the service commands that
create, change and delete it; `entity_pages` registers the same pages for all four.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from depotgrid.manage.legacy import service
from depotgrid.manage.legacy.model import (
    Charger,
    Circuit,
    Device,
    PowerSource,
    PowerSourceKind,
    PowerSourceState,
)
from depotgrid.manage.legacy.views import CircuitNode, DepotTree
from depotgrid.manage.unit_of_work import UnitOfWork
from depotgrid.manage.web.forms import Choice, FormField

Create = Callable[[UnitOfWork, str, str, dict[str, Any]], Any]
Update = Callable[[UnitOfWork, str, str, dict[str, Any]], Any]
Delete = Callable[[UnitOfWork, str, str], None]

CIRCUIT_FIELDS = (
    FormField("name", "Name", hint="e.g. Grid connection, Feeder A, Row 3", wide=True),
    FormField(
        "parent_circuit_id",
        "Parent circuit",
        "select",
        required=False,
        choices="parents",
        blank="— none (top-level) —",
        hint="A top-level circuit is the depot's grid connection.",
        wide=True,
    ),
    FormField("max_capacity_kw", "Max capacity (kW)", "kw", hint="The physical rating."),
    FormField(
        "available_capacity_kw",
        "Available capacity (kW)",
        "kw",
        required=False,
        fallback="max_capacity_kw",
        hint="At most the rating. Empty: the rating.",
    ),
    FormField(
        "safe_default_capacity_kw",
        "Safe-default capacity (kW)",
        "kw",
        required=False,
        fallback="max_capacity_kw",
        hint="Used when no live limit is known. Empty: the rating.",
    ),
    FormField(
        "position",
        "Position",
        "int",
        required=False,
        omit_if_empty=True,
        hint="Order among its siblings, from 0. Empty: last (or unchanged).",
    ),
)

CHARGER_FIELDS = (
    FormField("name", "Name", hint="e.g. Bay 12", wide=True),
    FormField("circuit_id", "Circuit", "select", choices="circuits", wide=True),
    FormField(
        "ocpp_identity",
        "OCPP identity",
        hint="The charge point identity the charger connects with; unique across depots.",
        wide=True,
    ),
    FormField("max_power_kw", "Max power (kW)", "kw"),
    FormField(
        "min_power_kw", "Min power (kW)", "kw", required=False, default=0.0, hint="Empty: 0."
    ),
    FormField(
        "connector_count",
        "Connectors",
        "int",
        required=False,
        default=1,
        minimum=1,
        hint="Empty: 1.",
    ),
)

POWER_SOURCE_FIELDS = (
    FormField(
        "name", "Name", required=False, default="", hint="Empty: named by its kind.", wide=True
    ),
    FormField("kind", "Kind", "select", choices="kinds"),
    FormField("state", "State", "select", choices="states", initial="UNKNOWN"),
    FormField(
        "circuit_id",
        "Circuit",
        "select",
        required=False,
        choices="circuits",
        blank="— not on a circuit —",
        wide=True,
    ),
    FormField("rated_power_kw", "Rated power (kW)", "kw"),
)

DEVICE_FIELDS = (
    FormField("name", "Name", hint="e.g. Site meter", wide=True),
    FormField(
        "circuit_id",
        "Circuit",
        "select",
        required=False,
        choices="circuits",
        blank="— not on a circuit —",
        wide=True,
    ),
    FormField("site_model_name", "Site model name", required=False, wide=True),
    FormField(
        "output_translation",
        "Output translation (JSON)",
        "json",
        required=False,
        hint='A JSON object, e.g. {"power_kw": "P"}. Empty: none.',
        wide=True,
    ),
)

PATH_SEPARATOR = " \u203a "  # a single right-pointing angle quote
KIND_CHOICES: tuple[Choice, ...] = tuple((k.value, k.value.title()) for k in PowerSourceKind)
STATE_CHOICES: tuple[Choice, ...] = tuple((s.value, s.value.title()) for s in PowerSourceState)


@dataclass(frozen=True)
class EntityKind:
    slug: str
    label: str
    model: type[Any]
    fields: tuple[FormField, ...]
    create: Create
    update: Update
    delete: Delete

    @property
    def title(self) -> str:
        return self.label[:1].upper() + self.label[1:]


def _component(
    slug: str, label: str, model: type[Any], fields: tuple[FormField, ...]
) -> EntityKind:
    return EntityKind(
        slug=slug,
        label=label,
        model=model,
        fields=fields,
        create=lambda uow, actor, depot_id, f: service.create_component(
            uow, actor, model, depot_id, f
        ),
        update=lambda uow, actor, i, c: service.update_component(uow, actor, model, i, c),
        delete=lambda uow, actor, i: service.delete_component(uow, actor, model, i),
    )


KINDS: tuple[EntityKind, ...] = (
    EntityKind(
        slug="circuits",
        label="circuit",
        model=Circuit,
        fields=CIRCUIT_FIELDS,
        create=service.create_circuit,
        update=service.update_circuit,
        delete=service.delete_circuit,
    ),
    _component("chargers", "charger", Charger, CHARGER_FIELDS),
    _component("power-sources", "power source", PowerSource, POWER_SOURCE_FIELDS),
    _component("devices", "device", Device, DEVICE_FIELDS),
)


def display_name(entity: Any) -> str:
    """What an entity is called on screen; an unnamed power source goes by its kind."""
    if isinstance(entity, PowerSource) and not entity.name:
        return entity.kind.value.title()
    return str(entity.name)


def walk(
    nodes: Sequence[CircuitNode], trail: tuple[str, ...] = ()
) -> Iterator[tuple[CircuitNode, str]]:
    """Every circuit in tree order with its path, e.g. 'Grid connection > Feeder A'."""
    for node in nodes:
        path = (*trail, node.name)
        yield node, PATH_SEPARATOR.join(path)
        yield from walk(node.children, path)


def find_node(tree: DepotTree, circuit_id: str) -> CircuitNode | None:
    return next((node for node, _ in walk(tree.circuits) if node.id == circuit_id), None)


def subtree_ids(node: CircuitNode) -> set[str]:
    return {node.id} | {i for child in node.children for i in subtree_ids(child)}


def choices_for(tree: DepotTree, editing: Any | None) -> dict[str, Sequence[Choice]]:
    """The lists a form may choose from; a circuit cannot move under itself or its descendants."""
    excluded: set[str] = set()
    if isinstance(editing, Circuit):
        node = find_node(tree, editing.id)
        excluded = subtree_ids(node) if node else {editing.id}
    circuits = [(node.id, path) for node, path in walk(tree.circuits)]
    return {
        "circuits": circuits,
        "parents": [(cid, path) for cid, path in circuits if cid not in excluded],
        "kinds": KIND_CHOICES,
        "states": STATE_CHOICES,
    }


def blockers(tree: DepotTree, entity: Any) -> list[str]:
    """What must go before `entity` can be deleted, in words ('2 chargers: Bay 1, Bay 2')."""
    if not isinstance(entity, Circuit):
        return []
    node = find_node(tree, entity.id)
    if node is None:
        return []
    groups = (
        ("child circuit", node.children),
        ("charger", node.chargers),
        ("power source", node.power_sources),
        ("device", node.devices),
    )
    return [
        f"{len(items)} {word}{'s' if len(items) != 1 else ''}: "
        + ", ".join(item.name for item in items)
        for word, items in groups
        if items
    ]
