"""Engine construction: SQLite tuned for concurrent writers, PostgreSQL as is."""

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
        return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        # As many pooled connections as FastAPI has worker threads (40): overflow connections
        # are closed on return, and reopening one repeats the PRAGMAs below.
        pool_size=40,
        max_overflow=10,
    )
    writer_lock = threading.Lock()
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", lambda conn: _sqlite_on_begin(conn, writer_lock))
    for end in ("commit", "rollback"):
        event.listen(engine, end, _release_writer_lock)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide where transactions begin (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_on_begin(conn: Any, writer_lock: threading.Lock) -> None:
    # A deferred transaction that reads and then writes can fail at once with SQLITE_BUSY when
    # another writer got there first; taking the lock at BEGIN makes writers queue instead.
    # Writers of this process queue on a thread lock first: SQLite's own busy handler polls
    # with sleeps of up to 100 ms, which turns a short queue into a long tail.
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
