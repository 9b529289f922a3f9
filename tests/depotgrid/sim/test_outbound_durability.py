"""Persist before send: every message the simulator promises to another system is in the ledger,
committed, before that system sees it, now that outbound heartbeats are claimed and finalized in
batches and sent through sim's own HTTP transport."""

from __future__ import annotations

import uuid

import httpx
from fastapi import Request, Response
from sqlalchemy import Engine, select

from depotgrid.sim.db.tables import oscp_ledger
from tests.conftest import serve
from tests.depotgrid.sim.fp_double import FpDouble
from tests.depotgrid.sim.helpers import World, create_session, go_online, wait_until


class CheckingFp(FpDouble):
    """An FP double that, as each request arrives, looks the request up in sim's database on
    a connection of its own (so it sees only committed rows)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.seen: list[tuple[str, str | None, str | None]] = []
        """(endpoint, X-Request-ID, outcome of its ledger entry on arrival, None if absent)."""

    async def _receive(self, prefix: str, endpoint: str, request: Request) -> Response:
        request_id = request.headers.get("x-request-id")
        self.seen.append((endpoint, request_id, self._outcome(request_id)))
        return await super()._receive(prefix, endpoint, request)

    def _outcome(self, request_id: str | None) -> str | None:
        with self.engine.connect() as conn:
            return conn.scalar(
                select(oscp_ledger.c.outcome).where(
                    oscp_ledger.c.direction == "outbound", oscp_ledger.c.request_id == request_id
                )
            )


def test_outbound_messages_are_committed_pending_before_the_fp_receives_them(
    sim: httpx.Client, world: World, sim_db: Engine
) -> None:
    fp = CheckingFp(sim_db)
    with serve(fp.app) as url:
        fp.url = url
        session = create_session(sim, world, fp)
        go_online(sim, world, session, fp, interval=1)
        wait_until(
            lambda: [s for s in fp.seen if s[0] == "heartbeat"],
            lambda beats: len(beats) >= 3,
            what="three scheduled heartbeats",
        )
    assert fp.seen[0][0] == "handshake"
    assert all(outcome == "pending" for _, _, outcome in fp.seen), fp.seen


def test_an_inbound_heartbeat_is_committed_before_its_answer(
    sim: httpx.Client, world: World, fp: FpDouble, sim_db: Engine
) -> None:
    session = create_session(sim, world, fp)
    go_online(sim, world, session, fp)
    peer = fp.peers["2b5f4a88-d4b4-41ad-a1c8-889f3ee71111"]
    answer = httpx.post(
        f"{peer.cp_base_url}/heartbeat",
        json={"offline_mode_at": "2099-01-01T00:00:00Z"},
        headers={
            "Authorization": f"Token {peer.cp_token}",
            "X-Request-ID": str(uuid.uuid4()),
            "X-OSCP-Configuration-ID": "2b5f4a88-d4b4-41ad-a1c8-889f3ee71111",
        },
    )
    assert answer.status_code == 204, answer.text
    with sim_db.connect() as conn:
        outcome = conn.scalar(
            select(oscp_ledger.c.outcome).where(
                oscp_ledger.c.id == answer.headers["X-Ledger-Entry-ID"]
            )
        )
    assert outcome == "accepted"
