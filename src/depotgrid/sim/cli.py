"""`depotgrid sim ...`: the simulator's commands (mounted by `depotgrid.cli`)."""

from __future__ import annotations

from typing import Annotated

import typer

sim_app = typer.Typer(help="The depot simulator.", no_args_is_help=True)


@sim_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
) -> None:
    """Migrate sim's database, then serve the control API, the OSCP CP protocol API and the UI.

    `kill -USR1 <pid>` prints every thread's stack to stderr (diagnosing a stuck process).
    """
    import faulthandler
    import signal

    import uvicorn

    from depotgrid.common.logging import configure_logging
    from depotgrid.settings import Settings
    from depotgrid.sim.app import create_sim_app
    from depotgrid.sim.db.engine import make_engine
    from depotgrid.sim.db.migrate import upgrade

    faulthandler.register(signal.SIGUSR1, all_threads=True)
    settings = Settings()
    settings.ensure_data_dir()
    configure_logging(settings.log_level, json=settings.log_json)
    engine = make_engine(settings.sim_database_url)
    upgrade(engine)
    app = create_sim_app(settings, engine=engine)
    uvicorn.run(app, host=host, port=port, log_config=None)
