"""Runs: the list with clock controls and the create-run form; a run's detail with its clock,
world state and OSCP sessions; attaching a session."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from depotgrid.sim.api.sessions import cp_base_url
from depotgrid.sim.runtime.run import RunCommand
from depotgrid.sim.services import services
from depotgrid.sim.web import commands, forms, views
from depotgrid.sim.web.forms import REFUSALS, FormState, refusal
from depotgrid.sim.web.page_route import PageRoute
from depotgrid.sim.web.rendering import render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)
RUN = "/runs/{run_id}"


def runs_list(
    request: Request,
    *,
    form: FormState | None = None,
    alert: str = "",
    notice: str = "",
    status: int = 200,
) -> Response:
    context = views.runs_page(services(request))
    return render(
        request,
        "runs/list.html",
        {
            **context,
            "form": form or FormState(),
            "alert": alert,
            "notice": notice,
            "choices": views.FORM_CHOICES,
        },
        status=status,
    )


def run_detail(
    request: Request,
    run_id: str,
    *,
    forms_: Mapping[str, FormState] | None = None,
    alert: str = "",
    notice: str = "",
    status: int = 200,
) -> Response:
    context = views.run_page(services(request), run_id)
    return render(
        request,
        "runs/detail.html",
        {
            **context,
            "forms": {name: FormState() for name in ("tick", "speed", "session")}
            | dict(forms_ or {}),
            "alert": alert,
            "notice": notice,
            "choices": views.FORM_CHOICES,
        },
        status=status,
    )


def _done(url: str, key: str) -> RedirectResponse:
    return RedirectResponse(f"{url}?done={key}", status_code=303)


@router.get("")
async def runs(request: Request, done: str = "") -> Response:
    return runs_list(request, notice=views.RUN_NOTICES.get(done, ""))


@router.get("/runs/live")
async def runs_live(request: Request) -> Response:
    """The live regions of the runs list, swapped in out of band by the page's poller."""
    context = views.runs_page(services(request))
    return render(request, "runs/_live.html", {**context, "oob": True})


@router.post("/runs")
async def create_run(request: Request) -> Response:
    state = FormState.of(await request.form())
    try:
        run_id = commands.create_run(services(request), forms.run_in(state))
    except REFUSALS as exc:
        problem = refusal(exc, forms.RUN_FIELDS)
        return runs_list(request, form=state.refused(problem), status=problem.status)
    return _done(f"/ui/runs/{run_id}", "created")


@router.get(RUN)
async def run(run_id: str, request: Request, done: str = "") -> Response:
    return run_detail(request, run_id, notice=views.RUN_NOTICES.get(done, ""))


@router.get(RUN + "/live")
async def run_live(run_id: str, request: Request) -> Response:
    context = views.run_page(services(request), run_id)
    return render(request, "runs/_detail_live.html", {**context, "oob": True})


@router.get(RUN + "/stop")
async def confirm_stop(run_id: str, request: Request, back: str = "run") -> Response:
    """Stopping is final: say what it does before doing it."""
    context = views.run_page(services(request), run_id)
    return render(request, "runs/stop.html", {**context, "back": _back(back)})


@router.post(RUN + "/commands/{command}")
async def run_command(run_id: str, command: RunCommand, request: Request) -> Response:
    """A clock control from the runs list (`back=list`) or the run's page."""
    sim = services(request)
    state = FormState.of(await request.form())
    back = _back(state.value("back"))
    try:
        seconds = forms.tick_seconds(state) if command is RunCommand.TICK else None
        commands.run_command(sim, run_id, command, seconds)
    except REFUSALS as exc:
        problem = refusal(exc, forms.TICK_FIELDS)
        if back == "list":
            return runs_list(request, alert=problem.message or str(problem), status=problem.status)
        return run_detail(
            request,
            run_id,
            forms_={"tick": state.refused(problem)} if command is RunCommand.TICK else {},
            alert="" if command is RunCommand.TICK else problem.message,
            status=problem.status,
        )
    url = "/ui" if back == "list" else f"/ui/runs/{run_id}"
    return _done(url, command.value)


@router.post(RUN + "/speed")
async def change_speed(run_id: str, request: Request) -> Response:
    state = FormState.of(await request.form())
    try:
        commands.change_speed(services(request), run_id, forms.speed(state))
    except REFUSALS as exc:
        problem = refusal(exc, forms.SPEED_FIELDS)
        return run_detail(
            request, run_id, forms_={"speed": state.refused(problem)}, status=problem.status
        )
    return _done(f"/ui/runs/{run_id}", "speed")


@router.post(RUN + "/sessions")
async def attach_session(run_id: str, request: Request) -> Response:
    """Attach an OSCP session; its cp_token is shown on the answer, once, never again."""
    sim = services(request)
    state = FormState.of(await request.form())
    try:
        created = commands.create_session(sim, run_id, forms.session_in(state))
    except REFUSALS as exc:
        problem = refusal(exc, forms.SESSION_FIELDS)
        return run_detail(
            request, run_id, forms_={"session": state.refused(problem)}, status=problem.status
        )
    context: dict[str, Any] = {
        "run_id": run_id,
        "session": created.session,
        "cp_token": created.cp_token,
        "cp_base_url": cp_base_url(request),
    }
    return render(request, "runs/session_created.html", context, status=201)


def _back(value: str) -> Literal["list", "run"]:
    return "list" if value == "list" else "run"
