"""``hospfab alerts add|list|remove|test|run``: where the night shift's alerts go, and a delivery pass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from hospfab.cli.options import JsonOpt, settings
from hospfab.cli.output import CommandResult, emit
from hospfab.errors import ExitCode

if TYPE_CHECKING:
    from rich.console import Console

alerts_app = typer.Typer(help="Alert channels (webhook, email, command) and delivery.", no_args_is_help=True)


@alerts_app.command("add")
def add(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="webhook, email or command.", show_default=False)],
    target: Annotated[str, typer.Argument(help="URL, e-mail address, or command line.", show_default=False)],
    json_: JsonOpt = False,
) -> None:
    """Add an alert channel to the site configuration (config.yaml, key `alerts`).

    A webhook gets a JSON POST with a `text` field (what chat tools show); an e-mail goes through the SMTP
    server of `alerts.smtp`; a command gets the event as JSON on stdin.

    Example: hospfab alerts add webhook https://chat.hospital.lan/hooks/nightshift
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.alerts.config import add_channel

        channel = add_channel(config.config_dir, kind, target)
        data = {"id": channel.id, "type": channel.type, "target": channel.shown()}
        return CommandResult(data=data, render=lambda c: c.print(f"Added {channel.id}: {channel.type} "
                                                                 f"{channel.shown()}", markup=False))

    emit("alerts add", json_, work)


@alerts_app.command("list")
def list_channels(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List alert channels (webhook URLs shown without their secret path) and thresholds.

    Example: hospfab alerts list
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.alerts.config import load_alerts

        alerts = load_alerts(config.config_dir)
        data = {"channels": [{"id": c.id, "type": c.type, "target": c.shown()} for c in alerts.channels],
                "smtp": {"host": alerts.smtp.host, "port": alerts.smtp.port, "starttls": alerts.smtp.starttls},
                "bed_wait_min": alerts.bed_wait_min}  # fmt: skip

        def render(console: Console) -> None:
            if not data["channels"]:
                console.print("No alert channel: add one with `hospfab alerts add webhook URL`.")
            for c in data["channels"]:
                console.print(f"{c['id']}: {c['type']} {c['target']}", markup=False)

        return CommandResult(data=data, render=render)

    emit("alerts list", json_, work)


@alerts_app.command("remove")
def remove(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument(help="Channel id (see `alerts list`).", show_default=False)],
    json_: JsonOpt = False,
) -> None:
    """Remove an alert channel.

    Example: hospfab alerts remove webhook-1
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.alerts.config import remove_channel

        channel = remove_channel(config.config_dir, ident)
        return CommandResult(data={"id": channel.id}, render=lambda c: c.print(f"Removed {channel.id}."))

    emit("alerts remove", json_, work)


@alerts_app.command("test")
def test(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Send a test message to every channel now; exit 3 when one could not take it.

    Example: hospfab alerts test
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.alerts.deliver import send_test
        from hospfab.errors import InputError

        results = send_test(config.config_dir)
        if not results:
            raise InputError("no alert channel configured (hospfab alerts add ...)")
        errors = [{"code": "alert_channel_down", "message": m} for m in results.values() if m != "ok"]

        def render(console: Console) -> None:
            for ident, outcome in results.items():
                if outcome == "ok":
                    console.print(f"{ident}: sent", markup=False)

        return CommandResult(data={"channels": results}, errors=errors, render=render,
                             exit_code=ExitCode.PRINTER if errors else ExitCode.OK)  # fmt: skip

    emit("alerts test", json_, work)


@alerts_app.command("run")
def run(
    ctx: typer.Context,
    watch: Annotated[float | None, typer.Option("--watch", min=1.0, help="Repeat every N seconds until Ctrl-C.")]
    = None,
    json_: JsonOpt = False,
) -> None:
    """Record new events (from the journal and the printers) and send the alerts that are due.

    The queue runner and `hospfab serve` do this on their own; this pass is for a site that runs neither
    (e.g. from cron). Each alert goes out once, whoever sends it.

    Example: hospfab alerts run --watch 30
    """
    config = settings(ctx)

    def work() -> CommandResult:
        import time

        from hospfab.alerts.deliver import run_pass
        from hospfab.fleet.loading import load_printers

        printers = load_printers(config, required=False)
        total = {"new_events": [], "sent": 0, "failed": 0}
        while True:
            result = run_pass(config.database_target, config.config_dir, printers=printers)
            total["new_events"] += result["new_events"]
            total["sent"] += result["sent"]
            total["failed"] += result["failed"]
            if watch is None:
                break
            try:
                time.sleep(watch)
            except KeyboardInterrupt:
                break

        def render(console: Console) -> None:
            for event in total["new_events"]:
                console.print(event["message"], markup=False)
            console.print(f"{len(total['new_events'])} new events; {total['sent']} alerts sent, "
                          f"{total['failed']} failed attempts (retried later).")  # fmt: skip

        return CommandResult(data=total, render=render)

    emit("alerts run", json_, work)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(alerts_app, name="alerts")
