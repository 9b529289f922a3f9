"""An OSCP session's page: state, negotiated behaviour and timers; the protocol commands; the
send-forecast form; overrides and presets; expectations; the message ledger."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from depotgrid.sim.api.sessions import cp_base_url
from depotgrid.sim.projections.oscp_cp.outbound import Delivery
from depotgrid.sim.services import SimServices, services
from depotgrid.sim.web import commands, forms, views
from depotgrid.sim.web.forms import REFUSALS, FormInvalid, FormState, refusal
from depotgrid.sim.web.page_route import PageRoute
from depotgrid.sim.web.rendering import render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)
SESSION = "/runs/{run_id}/sessions/{session_id}"
FORMS = ("handshake", "forecast", "override", "preset", "expectation", "commands")


def ledger_query(
    direction: Annotated[str, Query()] = "",
    message_type: Annotated[str, Query()] = "",
    outcome: Annotated[str, Query()] = "",
    forced: Annotated[str, Query()] = "",
    offset: Annotated[str, Query()] = "",
) -> views.LedgerQuery:
    return views.LedgerQuery.parse(direction, message_type, outcome, forced, offset)


LedgerParams = Annotated[views.LedgerQuery, Depends(ledger_query)]


def _url(run_id: str, session_id: str) -> str:
    return f"/ui/runs/{run_id}/sessions/{session_id}"


def session_detail(
    request: Request,
    run_id: str,
    session_id: str,
    *,
    query: views.LedgerQuery | None = None,
    forms_: Mapping[str, FormState] | None = None,
    notice: Mapping[str, object] | None = None,
    status: int = 200,
) -> Response:
    base = _url(run_id, session_id)
    context = views.session_page(
        services(request), run_id, session_id, query or views.LedgerQuery(), base
    )
    return render(
        request,
        "sessions/detail.html",
        {
            **context,
            "base": base,
            "forms": {name: FormState() for name in FORMS} | dict(forms_ or {}),
            "notice": notice,
            "choices": views.FORM_CHOICES,
            "mode_hints": views.MODE_HINTS,
        },
        status=status,
    )


@router.get(SESSION)
async def session(
    run_id: str,
    session_id: str,
    request: Request,
    query: LedgerParams,
    done: str = "",
    sent: str = "",
) -> Response:
    notice = views.session_notice(services(request), session_id, done, sent)
    return session_detail(request, run_id, session_id, query=query, notice=notice)


@router.get(SESSION + "/live")
async def session_live(
    run_id: str, session_id: str, request: Request, query: LedgerParams
) -> Response:
    """The page's live regions, swapped in out of band by its poller (the ledger only on its
    first page, so an older page holds still while it is read)."""
    base = _url(run_id, session_id)
    context = views.session_page(services(request), run_id, session_id, query, base)
    return render(request, "sessions/_live.html", {**context, "base": base, "oob": True})


def _sent(run_id: str, session_id: str, delivery: Delivery, section: str) -> RedirectResponse:
    url = f"{_url(run_id, session_id)}?sent={delivery.ledger_entry_id}#{section}"
    return RedirectResponse(url, status_code=303)


def _done(run_id: str, session_id: str, key: str, section: str) -> RedirectResponse:
    return RedirectResponse(f"{_url(run_id, session_id)}?done={key}#{section}", status_code=303)


def _refused(
    request: Request,
    run_id: str,
    session_id: str,
    form: str,
    state: FormState,
    problem: FormInvalid,
) -> Response:
    return session_detail(
        request, run_id, session_id, forms_={form: state.refused(problem)}, status=problem.status
    )


@router.post(SESSION + "/commands/send-handshake")
async def send_handshake(run_id: str, session_id: str, request: Request) -> Response:
    sim = services(request)
    state = FormState.of(await request.form())
    try:
        body = forms.handshake_in(state)
        delivery = await sim.outbound.send_handshake(
            run_id,
            session_id,
            heartbeat_interval=body.heartbeat_interval_seconds,
            measurement_configuration=body.measurement_configuration,
            ack_timeout_seconds=body.ack_timeout_seconds,
        )
    except REFUSALS as exc:
        problem = refusal(exc, forms.HANDSHAKE_FIELDS)
        return _refused(request, run_id, session_id, "handshake", state, problem)
    return _sent(run_id, session_id, delivery, "commands")


@router.post(SESSION + "/commands/send-heartbeat")
async def send_heartbeat(run_id: str, session_id: str, request: Request) -> Response:
    sim = services(request)
    try:
        delivery = await sim.outbound.send_heartbeat(run_id, session_id)
    except REFUSALS as exc:
        problem = refusal(exc, {})
        return _refused(request, run_id, session_id, "commands", FormState(), problem)
    return _sent(run_id, session_id, delivery, "commands")


@router.post(SESSION + "/commands/register")
async def register(run_id: str, session_id: str, request: Request) -> Response:
    """Registration announces this server's protocol base URL, as the API's default does."""
    sim = services(request)
    try:
        delivery = await sim.outbound.register(run_id, session_id, cp_base_url(request))
    except REFUSALS as exc:
        problem = refusal(exc, {})
        return _refused(request, run_id, session_id, "commands", FormState(), problem)
    return _sent(run_id, session_id, delivery, "commands")


@router.post(SESSION + "/commands/send-forecast")
async def send_forecast(run_id: str, session_id: str, request: Request) -> Response:
    sim = services(request)
    state = FormState.of(await request.form())
    try:
        body = forms.forecast_in(state, _logical_now(sim, run_id))
        delivery, _ = await sim.outbound.send_forecast(
            run_id, session_id, body.type, body.forecasted_blocks
        )
    except REFUSALS as exc:
        problem = refusal(exc, forms.FORECAST_FIELDS)
        return _refused(request, run_id, session_id, "forecast", state, problem)
    return _sent(run_id, session_id, delivery, "forecast")


@router.post(SESSION + "/overrides")
async def apply_override(run_id: str, session_id: str, request: Request) -> Response:
    state = FormState.of(await request.form())
    try:
        patch = forms.override_patch(state)
        commands.patch_overrides(services(request), run_id, session_id, patch)
    except REFUSALS as exc:
        problem = refusal(exc, forms.OVERRIDE_FIELDS)
        return _refused(request, run_id, session_id, "override", state, problem)
    return _done(run_id, session_id, "override", "scenario")


@router.post(SESSION + "/overrides/clear")
async def clear_override(run_id: str, session_id: str, request: Request) -> Response:
    """Clear one mode's override, or all of them (`mode=none`)."""
    state = FormState.of(await request.form())
    mode = state.value("mode")
    try:
        commands.patch_overrides(services(request), run_id, session_id, forms.clear_patch(mode))
    except REFUSALS as exc:
        problem = refusal(exc, {})
        return _refused(request, run_id, session_id, "override", FormState(), problem)
    return _done(run_id, session_id, "cleared-all" if mode == "none" else "cleared", "scenario")


@router.post(SESSION + "/preset")
async def apply_preset(run_id: str, session_id: str, request: Request) -> Response:
    state = FormState.of(await request.form())
    try:
        preset = forms.preset_in(state).preset
        commands.apply_preset(services(request), run_id, session_id, preset)
    except REFUSALS as exc:
        problem = refusal(exc, forms.PRESET_FIELDS)
        return _refused(request, run_id, session_id, "preset", state, problem)
    return _done(run_id, session_id, "preset", "scenario")


@router.post(SESSION + "/expectations")
async def add_expectation(run_id: str, session_id: str, request: Request) -> Response:
    state = FormState.of(await request.form())
    try:
        body = forms.expectation_in(state)
        commands.add_expectation(services(request), run_id, session_id, body)
    except REFUSALS as exc:
        problem = refusal(exc, forms.EXPECTATION_FIELDS)
        return _refused(request, run_id, session_id, "expectation", state, problem)
    return _done(run_id, session_id, "expectation", "expectations")


def _logical_now(sim: SimServices, run_id: str) -> datetime:
    """The run's logical now: a forecast profile's blocks start from it."""
    with sim.uows.read() as uow:
        record = sim.sessions.run(uow, run_id)
    return record.run.logical_at(sim.clock.now())
