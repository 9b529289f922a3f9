"""Account commands: create users, issue API tokens, authenticate."""

from __future__ import annotations

import re

from depotgrid.common.ids import new_id
from depotgrid.manage.auth.credentials import (
    hash_password,
    new_api_token,
    token_digest,
    verify_password,
)
from depotgrid.manage.auth.model import ApiToken, Role, User
from depotgrid.manage.errors import FieldError, NotFound, ValidationFailed
from depotgrid.manage.events.store import NewEvent
from depotgrid.manage.unit_of_work import UnitOfWork

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD_LENGTH = 8


def create_or_update_user(
    uow: UnitOfWork, actor: str, *, email: str, role: str, password: str
) -> User:
    """Create the user, or reset an existing user's role and password (an audited change)."""
    errors = []
    if not _EMAIL.match(email):
        errors.append(FieldError("email", f"'{email}' is not an email address"))
    if role not in {r.value for r in Role}:
        errors.append(FieldError("role", f"must be one of {', '.join(r.value for r in Role)}"))
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append(FieldError("password", f"must be at least {MIN_PASSWORD_LENGTH} characters"))
    if errors:
        raise ValidationFailed(errors)
    existing = uow.auth.user_by_email(email)
    user = User(
        id=existing.id if existing else new_id(),
        email=email.lower(),
        role=Role(role),
        password_hash=hash_password(password),
        created_at=existing.created_at if existing else uow.clock.now(),
    )
    if existing:
        uow.auth.save_user(user)
    else:
        uow.auth.add_user(user)
    _record(uow, actor, user, "UserUpdated" if existing else "UserCreated")
    return user


def issue_api_token(uow: UnitOfWork, actor: str, email: str) -> str:
    """Create an API token for the user and return it; only its digest is stored."""
    user = uow.auth.user_by_email(email)
    if user is None:
        raise NotFound("user", email)
    token = new_api_token()
    record = ApiToken(
        id=new_id(), user_id=user.id, token_hash=token_digest(token), created_at=uow.clock.now()
    )
    uow.auth.add_token(record)
    _record(uow, actor, user, "ApiTokenIssued", token_id=record.id)
    return token


def authenticate(uow: UnitOfWork, email: str, password: str) -> User | None:
    user = uow.auth.user_by_email(email)
    if user is None or not verify_password(user.password_hash, password):
        return None
    return user


def user_for_token(uow: UnitOfWork, token: str) -> User | None:
    return uow.auth.user_by_token_hash(token_digest(token))


def _record(uow: UnitOfWork, actor: str, user: User, event_type: str, **extra: str) -> None:
    stream = f"user-{user.id}"
    data = {"user_id": user.id, "email": user.email, "role": user.role.value, **extra}
    uow.events.append(
        stream,
        uow.events.current_version(stream),
        [NewEvent(event_type, data)],
        actor=actor,
        recorded_at=uow.clock.now(),
    )
