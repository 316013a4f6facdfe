"""One alert pass (collect new events, send what is due) and the hook the queue runner calls each round.

A failed send is retried with exponential backoff (``retry_s``, doubled per attempt, at most an hour) up to
``max_attempts``. :class:`AlertHook` runs passes in a background thread, at most one at a time and at most every
``interval_s``: the runner's round never waits for a slow channel.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hospfab.alerts.channels import ChannelDown, send
from hospfab.alerts.config import AlertsConfig, load_alerts
from hospfab.alerts.events import collect
from hospfab.alerts.events import runner_stopped as _stopped_event
from hospfab.alerts.store import AlertStore, Event
from hospfab.errors import HospfabError

if TYPE_CHECKING:
    from hospfab.fleet.model import PrinterConfig

MAX_BACKOFF_S = 3600.0


def backoff_s(config: AlertsConfig, attempts: int) -> float | None:
    """Seconds before the next try after ``attempts`` failed ones (None: give up)."""
    if attempts >= config.max_attempts:
        return None
    factor: int = 2 ** max(0, attempts - 1)
    return min(MAX_BACKOFF_S, config.retry_s * factor)


def deliver_due(alerts: AlertStore, config: AlertsConfig, *, timeout_s: float = 5.0) -> dict[str, int]:
    """Send every due delivery once; returns counts of sent and failed attempts."""
    counts = {"sent": 0, "failed": 0}
    channels = {c.id: c for c in config.channels}
    for key, channel_id in alerts.due():
        delivery = alerts.claim(key, channel_id)
        if delivery is None:
            continue
        channel = channels.get(channel_id)
        if channel is None:
            alerts.failed(key, channel_id, "channel removed from the configuration", retry_in_s=None)
            continue
        try:
            send(channel, delivery.event, config.smtp, timeout_s=timeout_s)
        except ChannelDown as err:
            alerts.failed(key, channel_id, err.message, retry_in_s=backoff_s(config, delivery.attempts))
            counts["failed"] += 1
        else:
            alerts.sent(key, channel_id)
            counts["sent"] += 1
    return counts


def run_pass(journal_path: Path, config_dir: Path, *, printers: list[PrinterConfig] | None = None,
             with_status: bool = True, timeout_s: float = 5.0) -> dict[str, Any]:
    """Collect new events from the database (and the printers' live state) and deliver what is due."""
    from hospfab.journal import Journal
    from hospfab.queue.store import QueueStore

    config = load_alerts(config_dir)
    printers = list(printers or [])
    if with_status and printers:
        from hospfab.web.status import fleet_view

        new = fleet_view(journal_path, printers, timeout=min(timeout_s, 3.0), config_dir=config_dir).new_events
    else:
        with AlertStore(journal_path) as alerts, QueueStore(journal_path) as store, Journal(journal_path) as journal:
            new = collect(alerts, store, journal, channels=[c.id for c in config.channels], printers=printers,
                          bed_wait_min=config.bed_wait_min)  # fmt: skip
    with AlertStore(journal_path) as alerts:
        counts = deliver_due(alerts, config, timeout_s=timeout_s)
    return {"new_events": [e.as_dict() for e in new], **counts}


def runner_stopped(journal_path: Path, config_dir: Path, runner: str, summary: Any) -> None:
    """Record that a queue runner stopped (its summary in the event); delivered by the next pass."""
    config = load_alerts(config_dir)
    with AlertStore(journal_path) as alerts:
        _stopped_event(alerts, runner, summary.stopped or "stopped", summary.as_dict(),
                       channels=[c.id for c in config.channels])


def send_test(config_dir: Path, *, timeout_s: float = 5.0) -> dict[str, str]:
    """Send a test message to every channel now (not recorded); channel id -> "ok" or the error."""
    config = load_alerts(config_dir)
    event = Event("test", "test", "test alert: this channel works.")
    out = {}
    for channel in config.channels:
        try:
            send(channel, event, config.smtp, timeout_s=timeout_s)
            out[channel.id] = "ok"
        except ChannelDown as err:
            out[channel.id] = err.message
    return out


class AlertHook:
    """Called by the queue runner once per round: starts a background pass when none is running and the
    last one began ``interval_s`` ago or more. Errors are logged, never raised into the runner."""

    def __init__(self, journal_path: Path, config_dir: Path, printers: list[PrinterConfig], *, interval_s: float = 5.0,
                 with_status: bool = True, log: Any = None) -> None:
        self.journal_path, self.config_dir, self.printers = journal_path, config_dir, printers
        self.interval_s, self.with_status = interval_s, with_status
        self.log = log or (lambda message: None)
        self._thread: threading.Thread | None = None
        self._last = -1e9

    def __call__(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        if time.monotonic() - self._last < self.interval_s:
            return
        self._last = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="hospfab-alerts", daemon=True)
        self._thread.start()

    def _run(self, with_status: bool | None = None) -> None:
        try:
            result = run_pass(self.journal_path, self.config_dir, printers=self.printers,
                              with_status=self.with_status if with_status is None else with_status)
        except HospfabError as err:
            self.log(f"alerts: {err.message}")
            return
        for event in result["new_events"]:
            self.log(f"alert: {event['message']}")

    def join(self, timeout: float | None = None) -> None:
        """Wait for a running pass (at stop), then run a last one so the final events go out. The last pass
        delivers what is recorded without asking printers: a run refused for safety contacts no printer."""
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = threading.Thread(target=self._run, kwargs={"with_status": False}, name="hospfab-alerts",
                                        daemon=True)
        self._thread.start()
        self._thread.join(timeout)
