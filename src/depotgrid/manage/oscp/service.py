"""Commands and queries on OSCP configurations (binding story; issue #5 §1).

Every change appends one event to the configuration's stream `oscp-configuration-{id}` and, in
the same transaction, writes the projection as the fold of that event onto the current state
(`record`). Appending at the projection's version makes a concurrent change fail instead of
being lost; the projection's unique indexes refuse a second active holder of a group_id or
scope. A refused command stores nothing: no event, no row, no secret.
"""

from __future__ import annotations

from typing import Any

from depotgrid.common.ids import new_id
from depotgrid.manage.auth.credentials import token_digest
from depotgrid.manage.errors import Conflict, FieldError, NotFound, ValidationFailed
from depotgrid.manage.events.store import NewEvent, RecordedEvent
from depotgrid.manage.microgrid import service as microgrids
from depotgrid.manage.oscp import inputs
from depotgrid.manage.oscp.configuration import (
    CREATED,
    DISABLED,
    ENABLED,
    INBOUND_TOKEN_ISSUED,
    INBOUND_TOKENS_RETIRED,
    UPDATED,
    ConfigurationState,
    OscpConfiguration,
    apply,
    created_data,
    edited,
    enable_blockers,
    not_ready,
    replay,
    updated_data,
)
from depotgrid.manage.oscp.inputs import ConfigurationInput, Seal
from depotgrid.manage.oscp.repository import (
    ConfigurationRepository,
    InboundCredential,
    InboundTokenRepository,
)
from depotgrid.manage.oscp.secrets import SecretBox, SecretStore, new_inbound_token
from depotgrid.manage.unit_of_work import UnitOfWork

KIND = "OSCP configuration"


def configuration_stream(configuration_id: str) -> str:
    return f"oscp-configuration-{configuration_id}"


def create(
    uow: UnitOfWork, actor: str, box: SecretBox, given: ConfigurationInput
) -> tuple[OscpConfiguration, str]:
    """Store a new configuration in state CONFIGURED; returns it and its inbound token.

    The token is what the Capacity Provider must present; only its digest is kept, so this is
    the one time it can be shown.
    """
    configuration_id = new_id()
    checked, errors = inputs.check(given, None)
    errors += _binding_errors(
        uow, checked.values.get("microgrid_id"), checked.values.get("managed_scope_id")
    )
    if errors:
        raise ValidationFailed(errors)
    values = inputs.settle(checked, None, _sealer(uow, box, configuration_id))
    token, credential = _new_inbound_token(uow, configuration_id)
    data = created_data(configuration_id, values, credential.id)
    return _append(uow, actor, configuration_id, None, CREATED, data), token


def update(
    uow: UnitOfWork,
    actor: str,
    box: SecretBox,
    configuration_id: str,
    given: ConfigurationInput,
    *,
    expected_version: int | None = None,
) -> OscpConfiguration:
    """Change the fields given; nothing is recorded when nothing changes.

    With `expected_version`, an edit made on a stale copy is refused (409 OSCP_STALE_VERSION).
    """
    current = get(uow, configuration_id)
    if expected_version is not None and expected_version != current.version:
        raise Conflict(
            f"OSCP configuration {configuration_id} is at version {current.version}, not "
            f"{expected_version}: someone changed it since you loaded it; reload and edit again",
            code="OSCP_STALE_VERSION",
            details={"current_version": current.version, "expected_version": expected_version},
        )
    checked, errors = inputs.check(given, current)
    microgrid_id = checked.values.get("microgrid_id", current.microgrid_id)
    scope_id = checked.values.get("managed_scope_id", current.managed_scope_id)
    if (microgrid_id, scope_id) != (current.microgrid_id, current.managed_scope_id):
        errors += _binding_errors(uow, microgrid_id, scope_id)
    if errors:
        raise ValidationFailed(errors)
    values = inputs.settle(checked, current, _sealer(uow, box, configuration_id))
    changed = edited(current, values)
    if not changed:
        return current
    after = record(uow, actor, current, UPDATED, updated_data(current, changed))
    SecretStore(uow.connection, box).delete(current.secret_refs() - after.secret_refs())
    return after


def enable(uow: UnitOfWork, actor: str, configuration_id: str) -> OscpConfiguration:
    """Switch the connection on (OscpConfigurationEnabled); already enabled: nothing changes.

    Refused with 409 OSCP_CONFIGURATION_INCOMPLETE naming what is missing (e.g. the reporting
    asset in ASSET mode, a scope that no longer exists), or 409 OSCP_GROUP_ID_IN_USE /
    OSCP_SCOPE_IN_USE when a disabled configuration's binding was taken meanwhile.
    """
    current = get(uow, configuration_id)
    if current.enabled:
        return current
    blockers = enable_blockers(current) + _binding_errors(
        uow, current.microgrid_id, current.managed_scope_id
    )
    if blockers:
        raise not_ready(current, blockers)
    return record(uow, actor, current, ENABLED, {"configuration_id": configuration_id})


def disable(uow: UnitOfWork, actor: str, configuration_id: str) -> OscpConfiguration:
    """Switch the connection off and release its group_id and scope; already DISABLED: no-op."""
    current = get(uow, configuration_id)
    if current.state is ConfigurationState.DISABLED:
        return current
    return record(uow, actor, current, DISABLED, {"configuration_id": configuration_id})


def record(
    uow: UnitOfWork,
    actor: str,
    configuration: OscpConfiguration,
    event_type: str,
    data: dict[str, Any],
) -> OscpConfiguration:
    """Append one event to the configuration's stream and project it; returns the new state.

    The way every change is made, lifecycle transitions included: `event_type` must have a step
    in `configuration.STEPS`. Raises ConcurrencyError if the stream moved past
    `configuration.version`.
    """
    return _append(uow, actor, configuration.id, configuration, event_type, data)


def get(uow: UnitOfWork, configuration_id: str) -> OscpConfiguration:
    found = ConfigurationRepository(uow.connection).get(configuration_id)
    if found is None:
        raise NotFound(KIND, configuration_id)
    return found


def page(uow: UnitOfWork, *, limit: int, offset: int) -> tuple[list[OscpConfiguration], int]:
    return ConfigurationRepository(uow.connection).page(limit=limit, offset=offset)


def history(
    uow: UnitOfWork, configuration_id: str, *, limit: int, offset: int
) -> tuple[list[tuple[RecordedEvent, OscpConfiguration]], int]:
    """A page of the configuration's events, oldest first, each with the configuration as it
    stood after it (folded from the first event)."""
    stream = configuration_stream(configuration_id)
    total = uow.events.current_version(stream)
    if total == 0:
        raise NotFound(KIND, configuration_id)
    events = uow.events.read_stream(stream, limit=offset + limit)
    return list(zip(events, replay(events), strict=True))[offset:], total


def issue_inbound_token(uow: UnitOfWork, actor: str, configuration_id: str) -> str:
    """A new inbound token for the configuration; the ones it already has stay valid."""
    current = get(uow, configuration_id)
    token, credential = _new_inbound_token(uow, configuration_id)
    data = {"configuration_id": configuration_id, "credential_id": credential.id}
    record(uow, actor, current, INBOUND_TOKEN_ISSUED, data)
    return token


def retire_inbound_tokens(uow: UnitOfWork, actor: str, configuration_id: str, *, keep: str) -> None:
    """Retire every inbound token of the configuration but `keep` (e.g. when a registration
    token exchange completes); `keep` must be one of its valid tokens."""
    current = get(uow, configuration_id)
    tokens = InboundTokenRepository(uow.connection)
    kept = tokens.find(token_digest(keep))
    if kept is None or kept.configuration_id != configuration_id:
        raise ValueError(f"keep is not a valid inbound token of {configuration_id}")
    retiring = [c.id for c in tokens.valid(configuration_id) if c.id != kept.id]
    if retiring:
        tokens.retire(retiring, uow.clock.now())
        data = {"configuration_id": configuration_id, "credential_ids": retiring}
        record(uow, actor, current, INBOUND_TOKENS_RETIRED, data)


def rotate_inbound_token(uow: UnitOfWork, actor: str, configuration_id: str) -> str:
    """Replace every inbound token with a new one (an operator lost it or it leaked)."""
    token = issue_inbound_token(uow, actor, configuration_id)
    retire_inbound_tokens(uow, actor, configuration_id, keep=token)
    return token


def authenticate_inbound(uow: UnitOfWork, token: str) -> str | None:
    """The configuration a valid inbound token belongs to, whatever its state; else None."""
    found = InboundTokenRepository(uow.connection).find(token_digest(token))
    return found.configuration_id if found else None


def inbound_credentials(uow: UnitOfWork, configuration_id: str) -> list[InboundCredential]:
    return InboundTokenRepository(uow.connection).valid(configuration_id)


def _append(
    uow: UnitOfWork,
    actor: str,
    configuration_id: str,
    current: OscpConfiguration | None,
    event_type: str,
    data: dict[str, Any],
) -> OscpConfiguration:
    (event,) = uow.events.append(
        configuration_stream(configuration_id),
        current.version if current else 0,
        [NewEvent(event_type, data)],
        actor=actor,
        recorded_at=uow.clock.now(),
    )
    after = apply(current, event)
    repository = ConfigurationRepository(uow.connection)
    if current is None:
        repository.add(after)
    else:
        repository.save(after)
    return after


def _new_inbound_token(uow: UnitOfWork, configuration_id: str) -> tuple[str, InboundCredential]:
    token = new_inbound_token()
    credential = InboundCredential(new_id(), configuration_id, uow.clock.now())
    InboundTokenRepository(uow.connection).add(credential, token_digest(token))
    return token, credential


def _sealer(uow: UnitOfWork, box: SecretBox, configuration_id: str) -> Seal:
    store = SecretStore(uow.connection, box)
    now = uow.clock.now()
    return lambda purpose, plaintext: store.seal(configuration_id, purpose, plaintext, now)


def _binding_errors(
    uow: UnitOfWork, microgrid_id: str | None, scope_id: str | None
) -> list[FieldError]:
    """The microgrid must be active and the scope one of its managed scopes, as the canonical
    microgrid read API lists them."""
    if microgrid_id is None:
        return []
    try:
        microgrid = microgrids.get_microgrid(uow, microgrid_id)
    except NotFound:
        return [FieldError("microgrid_id", "no microgrid has this id (see GET /api/microgrids)")]
    if not microgrid.active:
        return [
            FieldError("microgrid_id", f"microgrid {microgrid_id} is retired: choose an active one")
        ]
    if scope_id is None or scope_id in {s.scope_id for s in microgrids.scopes(uow, microgrid_id)}:
        return []
    return [
        FieldError(
            "managed_scope_id",
            f"is not a managed scope of microgrid {microgrid_id} "
            f"(see GET /api/microgrids/{microgrid_id}/scopes)",
        )
    ]
