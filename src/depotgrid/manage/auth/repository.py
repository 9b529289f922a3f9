"""Persistence of users and API tokens."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import Connection, insert, select, update

from depotgrid.manage.auth.model import ApiToken, Role, User
from depotgrid.manage.auth.tables import api_tokens, users


class AuthRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def user_by_email(self, email: str) -> User | None:
        row = self._conn.execute(select(users).where(users.c.email == email.lower())).first()
        return _user(row._mapping) if row else None

    def user_by_id(self, user_id: str) -> User | None:
        row = self._conn.execute(select(users).where(users.c.id == user_id)).first()
        return _user(row._mapping) if row else None

    def user_by_token_hash(self, token_hash: str) -> User | None:
        row = self._conn.execute(
            select(users)
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == token_hash)
        ).first()
        return _user(row._mapping) if row else None

    def add_user(self, user: User) -> None:
        self._conn.execute(insert(users).values(**asdict(user)))

    def save_user(self, user: User) -> None:
        self._conn.execute(update(users).where(users.c.id == user.id).values(**asdict(user)))

    def add_token(self, token: ApiToken) -> None:
        self._conn.execute(insert(api_tokens).values(**asdict(token)))


def _user(row: object) -> User:
    values = dict(row)  # type: ignore[call-overload]
    return User(**{**values, "role": Role(values["role"])})
