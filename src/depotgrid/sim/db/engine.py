"""Engine construction for sim's database: SQLite tuned for concurrent writers, PostgreSQL as is.

The same tuning as manage's engine (docs/decisions/0002-sqlite-writers.md): WAL, a busy timeout,
`BEGIN IMMEDIATE` for write transactions behind an in-process writer lock. sim cannot import
manage, so the few lines live here too; they belong in `depotgrid.common.db` once both use it.

sim runs its database work on the event loop thread in short transactions that never await
(see `depotgrid.sim.unit_of_work`), so a small pool suffices.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

WRITE = {"depotgrid_write": True}
"""Execution option marking a connection that will write: SQLite takes the write lock up front."""


def make_engine(url: str) -> Engine:
    """Build the engine for `url`; SQLite gets WAL, a busy timeout and eager write locks."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=10,
        max_overflow=10,
    )
    writer_lock = threading.Lock()
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", lambda conn: _sqlite_on_begin(conn, writer_lock))
    for end in ("commit", "rollback"):
        event.listen(engine, end, _release_writer_lock)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_on_begin(conn: Any, writer_lock: threading.Lock) -> None:
    if not conn.get_execution_options().get("depotgrid_write", False):
        conn.exec_driver_sql("BEGIN")
        return
    writer_lock.acquire()
    conn.info["writer_lock"] = writer_lock
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        _release_writer_lock(conn)
        raise


def _release_writer_lock(conn: Any) -> None:
    lock = conn.info.pop("writer_lock", None)
    if lock is not None:
        lock.release()
