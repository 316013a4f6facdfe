"""``hospfab serve``: the read-only fleet page for a wall screen (and ``/api/status``)."""

from __future__ import annotations

from typing import Annotated

import typer

from hospfab.cli.options import JsonOpt, settings
from hospfab.cli.output import CommandResult, emit


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (other than loopback: --token).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8470,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="HOSPFAB_SERVE_TOKEN", show_default=False,
        help="Required on every request (Bearer, basic-auth password, or ?token=); mandatory off loopback.")] = None,
    refresh: Annotated[float, typer.Option("--refresh", min=1.0, max=5.0, help="Seconds between page updates.")] = 3.0,
    staff_rounds: Annotated[float | None, typer.Option(
        "--staff-rounds", min=1, envvar="HOSPFAB_STAFF_ROUNDS",
        help="Minutes within which staff clear a manual bed, for the lots' forecast (default: nobody).")] = None,
    alerts: Annotated[bool, typer.Option("--alerts/--no-alerts", help="Also deliver pending alerts.")] = True,
    json_: JsonOpt = False,
) -> None:
    """Serve a live, read-only page of the fleet: printers, lots in progress, last events.

    The page refreshes itself every few seconds (no reload, no internet needed); /api/status returns the same
    data as JSON. Listens on 127.0.0.1 unless --host says otherwise, which then needs --token.

    Example: hospfab serve --port 8470
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.cli.output import stdout_console
        from hospfab.fleet.loading import load_printers
        from hospfab.errors import InputError
        from hospfab.web.server import StatusSource, create_app

        if not _loopback(host) and not token:
            raise InputError(f"--host {host}: not a loopback address; give --token (or HOSPFAB_SERVE_TOKEN) so "
                             "only people with it can see the fleet")  # fmt: skip
        if token is not None and len(token) < 12:
            raise InputError("--token: use at least 12 characters")
        printers = load_printers(config, required=False)
        source = StatusSource(config, printers, clearing_delay_s=staff_rounds * 60 if staff_rounds else None,
                              deliver_alerts=alerts)  # fmt: skip
        app = create_app(source, token=token, refresh_s=refresh)
        if not json_:
            stdout_console().print(f"Fleet page on http://{host}:{port}/ ({len(printers)} printers; Ctrl-C stops)",
                                   markup=False)  # fmt: skip
        _run(app, host, port)
        data = {"host": host, "port": port, "printers": len(printers)}
        return CommandResult(data=data, render=lambda c: c.print("Stopped."))

    emit("serve", json_, work)


def _run(app: object, host: str, port: int) -> None:
    """Serve ``app`` with hypercorn until SIGINT or SIGTERM (a graceful stop)."""
    import asyncio
    import signal

    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    from hospfab.errors import InputError

    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.loglevel = "WARNING"

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await hypercorn_serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    try:
        asyncio.run(main())
    except OSError as err:
        raise InputError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("serve")(serve)
