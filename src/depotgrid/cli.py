"""The `depotgrid` command line."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console
from sqlalchemy import Engine

from depotgrid.common.clock import SystemClock
from depotgrid.common.logging import configure_logging
from depotgrid.settings import Settings
from depotgrid.sim.cli import sim_app

app = typer.Typer(
    help="depotgrid: depot energy management and its simulator.", no_args_is_help=True
)
manage_app = typer.Typer(help="The manage service.", no_args_is_help=True)
app.add_typer(manage_app, name="manage")
app.add_typer(sim_app, name="sim")

console = Console(stderr=True)

CLI_ACTOR = "cli"
DEMO_ADMIN = "admin@depotgrid.local"


def _settings() -> Settings:
    settings = Settings()
    settings.ensure_data_dir()
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


def _migrated_uows(settings: Settings):  # type: ignore[no-untyped-def]
    from depotgrid.manage.bootstrap import unit_of_work_factory

    return unit_of_work_factory(_migrated_engine(settings), SystemClock())


@manage_app.command("serve")
def manage_serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Migrate the database, then serve the API and the operator UI."""
    settings = _settings()
    _serve(settings, host, port)


@manage_app.command("dispatch")
def manage_dispatch() -> None:
    """Run only the outbox dispatcher, until SIGINT or SIGTERM (scale-out on PostgreSQL).

    Any number may run against PostgreSQL; on SQLite run one (see docs/outbox.md).
    """
    import asyncio

    from depotgrid.manage.app import build_dispatcher
    from depotgrid.manage.outbox.dispatcher import run_until_signalled

    settings = _settings()
    asyncio.run(run_until_signalled(build_dispatcher(settings, _migrated_uows(settings))))


@manage_app.command("create-user")
def create_user(
    email: str,
    role: Annotated[str, typer.Option(help="system-admin, manager, operator or viewer.")],
    password: Annotated[str, typer.Option(help="At least 8 characters.")],
) -> None:
    """Create a user, or reset an existing user's role and password."""
    from depotgrid.manage.auth.service import create_or_update_user
    from depotgrid.manage.errors import ValidationFailed

    uows = _migrated_uows(_settings())
    try:
        with uows.write() as uow:
            user = create_or_update_user(uow, CLI_ACTOR, email=email, role=role, password=password)
            uow.commit()
    except ValidationFailed as exc:
        for error in exc.errors:
            console.print(f"[red]{error.field}[/red]: {error.reason}")
        raise typer.Exit(2) from exc
    print(f"user {user.email} has role {user.role.value}")


@manage_app.command("create-api-token")
def create_api_token(email: str) -> None:
    """Issue an API token for a user; it is printed once, alone on the last line."""
    from depotgrid.manage.auth.service import issue_api_token
    from depotgrid.manage.errors import NotFound

    uows = _migrated_uows(_settings())
    try:
        with uows.write() as uow:
            token = issue_api_token(uow, CLI_ACTOR, email)
            uow.commit()
    except NotFound as exc:
        console.print(f"[red]{exc}[/red]: create it first with `depotgrid manage create-user`")
        raise typer.Exit(2) from exc
    print("Store this token now; it is not shown again:")
    print(token)


@manage_app.command("microgrid-backfill")
def microgrid_backfill() -> None:
    """Provision the canonical microgrid of every depot with a top-level circuit (COR-8).

    Depots that already have one, or have no top-level circuit yet, are skipped with the reason.
    Safe to run again: it only creates what is missing.
    """
    from rich.progress import Progress
    from rich.table import Table

    from depotgrid.manage.errors import NotFound
    from depotgrid.manage.legacy.model import Depot
    from depotgrid.manage.microgrid.service import BackfillResult, backfill_depot

    uows = _migrated_uows(_settings())
    depots: list[Depot] = []
    with uows.read() as uow:
        while True:
            batch, total = uow.legacy.page(Depot, limit=500, offset=len(depots))
            depots.extend(batch)
            if not batch or len(depots) >= total:
                break
    results: list[tuple[Depot, BackfillResult]] = []
    with Progress(console=console) as progress:
        task = progress.add_task("Provisioning microgrids", total=len(depots))
        for depot in depots:
            try:
                with uows.write() as uow:
                    result = backfill_depot(uow, CLI_ACTOR, depot.id)
                    uow.commit()
            except NotFound:
                result = BackfillResult(depot.id, None, "DEPOT_DELETED", "deleted meanwhile")
            results.append((depot, result))
            progress.advance(task)
    table = Table(title="Microgrid backfill")
    table.add_column("Depot")
    table.add_column("Depot id", overflow="fold")
    table.add_column("Outcome")
    table.add_column("Microgrid id or reason", overflow="fold")
    reasons: dict[str, str] = {}
    for depot, result in results:
        if result.created is not None:
            table.add_row(depot.name, depot.id, "[green]created[/green]", result.created.id)
        else:
            code = result.skipped_code or "SKIPPED"
            reasons[code] = result.skipped_reason or ""
            table.add_row(depot.name, depot.id, "[yellow]skipped[/yellow]", code)
    created = sum(1 for _, result in results if result.created is not None)
    out = Console()
    out.print(table)
    for code, reason in sorted(reasons.items()):
        out.print(f"{code}: {reason}", highlight=False)
    print(f"microgrids created: {created}; depots skipped: {len(results) - created}")


@app.command("demo")
def demo(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for manage.")] = 8000,
    sim_port: Annotated[int, typer.Option(help="Port for the simulator.")] = 8100,
) -> None:
    """Start manage and the simulator on embedded SQLite databases with example data, and print
    the login and both URLs."""
    from depotgrid.demo import depot_tree, seed

    settings = _settings()
    uows = _migrated_uows(settings)
    password = secrets.token_urlsafe(9)
    depot_name = seed(uows, admin_email=DEMO_ADMIN, admin_password=password)
    url = f"http://{host}:{port}/"
    print(f"depotgrid demo: manage at {url} (database {settings.database_url})")
    print(f"log in as {DEMO_ADMIN} with password {password}")
    print(f"seeded depot: {depot_name}", flush=True)
    asyncio.run(_serve_demo(settings, host, port, sim_port, depot_tree(uows)))


async def _serve_demo(
    settings: Settings, host: str, port: int, sim_port: int, tree: dict[str, Any]
) -> None:
    """Both services in one process; when either stops (Ctrl-C), both stop."""
    from depotgrid.demo import seed_simulation
    from depotgrid.manage.app import create_app
    from depotgrid.sim.app import create_sim_app

    servers = [
        uvicorn.Server(uvicorn.Config(app, host=host, port=p, log_config=None))
        for app, p in (
            (create_app(settings, engine=_migrated_engine(settings)), port),
            (create_sim_app(settings, engine=_migrated_sim_engine(settings)), sim_port),
        )
    ]
    serving = [asyncio.create_task(server.serve()) for server in servers]
    while not all(server.started for server in servers):
        if any(task.done() for task in serving):
            break
        await asyncio.sleep(0.05)
    else:
        sim_url = f"http://{host}:{sim_port}"
        run_id = await asyncio.to_thread(seed_simulation, sim_url, tree)
        print(f"simulator at {sim_url}/ui (run {run_id} of the seeded depot)", flush=True)
    await asyncio.wait(serving, return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*serving)


def _migrated_engine(settings: Settings) -> Engine:
    from depotgrid.manage.db.engine import make_engine
    from depotgrid.manage.db.migrate import upgrade

    engine = make_engine(settings.database_url)
    upgrade(engine)
    return engine


def _migrated_sim_engine(settings: Settings) -> Engine:
    from depotgrid.sim.db.engine import make_engine
    from depotgrid.sim.db.migrate import upgrade

    engine = make_engine(settings.sim_database_url)
    upgrade(engine)
    return engine


def _serve(settings: Settings, host: str, port: int) -> None:
    from depotgrid.manage.app import create_app

    engine = _migrated_engine(settings)
    uvicorn.run(create_app(settings, engine=engine), host=host, port=port, log_config=None)


if __name__ == "__main__":
    app()
