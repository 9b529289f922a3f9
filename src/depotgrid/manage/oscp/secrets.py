"""Secrets of OSCP configurations: encrypted at rest, referenced by id, never in events.

The outbound token, the OAuth2 client secret and static header values are sealed with Fernet
(AES-CBC with an HMAC) under a key derived by HKDF from the installation's secret key
(`settings.secret_key`, persisted in the data directory), so a copy of the database alone
reveals nothing. The configuration and its events hold only the row id (`SecretRef`). A
replaced secret's row is deleted; old events keep a reference that resolves to nothing.

The inbound tokens manage issues to a Capacity Provider are random, shown once, and stored only
as SHA-256 digests (`oscp_inbound_tokens`), like API tokens.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from secrets import token_urlsafe

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, delete, insert, select

from depotgrid.common.ids import new_id
from depotgrid.manage.errors import Conflict
from depotgrid.manage.oscp.configuration import (
    OAuth2ClientCredentials,
    OscpConfiguration,
    SecretRef,
    TokenAuth,
)
from depotgrid.manage.oscp.tables import oscp_secrets
from depotgrid.manage.unit_of_work import UnitOfWork

KEY_PURPOSE = b"depotgrid/oscp-secrets/v1"
"""HKDF info: keys derived for other purposes from the same secret key differ from this one."""
INBOUND_TOKEN_BYTES = 36


class SecretBox:
    """Encrypts and decrypts secret text with the key derived from the installation's secret."""

    def __init__(self, secret_key: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_PURPOSE).derive(
            secret_key.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise Conflict(
                "a stored OSCP secret cannot be decrypted with this installation's secret key "
                "(was DEPOTGRID_SECRET_KEY or the data directory's secret_key changed?); "
                "enter the secret again",
                code="OSCP_SECRET_UNREADABLE",
            ) from None

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"


@cache
def secret_box(secret_key: str) -> SecretBox:
    """The box for `secret_key`, derived once per process."""
    return SecretBox(secret_key)


class SecretStore:
    """Rows of `oscp_secrets`, on the unit of work's connection."""

    def __init__(self, connection: Connection, box: SecretBox) -> None:
        self._conn = connection
        self._box = box

    def seal(self, configuration_id: str, purpose: str, plaintext: str, at: datetime) -> SecretRef:
        ref = SecretRef(new_id())
        self._conn.execute(
            insert(oscp_secrets).values(
                id=ref.id,
                configuration_id=configuration_id,
                purpose=purpose,
                ciphertext=self._box.encrypt(plaintext),
                created_at=at,
            )
        )
        return ref

    def reveal(self, ref: SecretRef) -> str:
        ciphertext = self._conn.scalar(
            select(oscp_secrets.c.ciphertext).where(oscp_secrets.c.id == ref.id)
        )
        if ciphertext is None:
            raise Conflict(
                f"OSCP secret {ref.id} is missing; enter the secret again",
                code="OSCP_SECRET_UNREADABLE",
            )
        return self._box.decrypt(ciphertext)

    def delete(self, ids: Iterable[str]) -> None:
        gone = list(ids)
        if gone:
            self._conn.execute(delete(oscp_secrets).where(oscp_secrets.c.id.in_(gone)))


@dataclass(frozen=True)
class OutboundSecrets:
    """The plaintext a delivery needs, read at send time and never kept."""

    token: str | None = field(default=None, repr=False)
    """kind=token: sent as `Authorization: Token <token>`."""
    client_secret: str | None = field(default=None, repr=False)
    """kind=oauth2_client_credentials: for the token request."""
    static_headers: dict[str, str] = field(default_factory=dict, repr=False)


def outbound_secrets(
    uow: UnitOfWork, box: SecretBox, configuration: OscpConfiguration
) -> OutboundSecrets:
    """What the dispatcher sends with a call to this configuration's Capacity Provider."""
    store = SecretStore(uow.connection, box)
    auth = configuration.outbound_auth
    headers = configuration.static_headers.values
    return OutboundSecrets(
        token=store.reveal(auth.token) if isinstance(auth, TokenAuth) else None,
        client_secret=(
            store.reveal(auth.client_secret) if isinstance(auth, OAuth2ClientCredentials) else None
        ),
        static_headers=json.loads(store.reveal(headers)) if headers else {},
    )


def new_inbound_token() -> str:
    """A token for a Capacity Provider to present (48 random characters, ~288 bits)."""
    return token_urlsafe(INBOUND_TOKEN_BYTES)
