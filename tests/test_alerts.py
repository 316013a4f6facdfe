"""Alerts: events derived from the database once, delivered once per channel to a real local HTTP receiver, a
real local SMTP server (aiosmtpd) and a command, retried with backoff while a channel is down."""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from hospfab.alerts.config import add_channel, load_alerts, save_alerts
from hospfab.alerts.deliver import deliver_due, run_pass
from hospfab.alerts.events import collect
from hospfab.alerts.store import AlertStore
from hospfab.journal import Journal
from hospfab.queue.store import QueueStore

RECIPE = {"printer": "mk4", "material": "petg", "process": "std", "build_file": "x.gcode", "sha256": "0" * 64,
          "copies": 2, "print_time_s": 60.0}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A real HTTP server on 127.0.0.1 that records every JSON POST."""

    def __init__(self, port: int) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self) -> None:
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            self.messages.append(envelope)
            return "250 OK"

    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


def failed_plate(path) -> str:
    """A lot whose first plate printed and failed on mk4-01 (attempts left: queued again), via the store's API."""
    with QueueStore(path) as store:
        lot = store.create_lot(ref="EAR", revision=1, quantity=4, recipes=[RECIPE], plates=[("mk4-01", 2)] * 2,
                               operator="t")  # fmt: skip
        plate = lot.plates[0].id
        store.claim(plate, runner="r", printer="mk4-01", job_id="job-1")
        store.mark_printing(plate, "job-1")
        store.finish_attempt(plate, "job-1", ok=False, reason="failed on mk4-01: thermal runaway")
    return plate


def test_a_failed_plate_is_one_event_with_its_reason_even_when_collected_twice(hospfab_home):
    path = hospfab_home / "journal.sqlite3"
    plate = failed_plate(path)
    with AlertStore(path) as alerts, QueueStore(path) as store, Journal(path) as journal:
        first = collect(alerts, store, journal, channels=["webhook-1"])
        again = collect(alerts, store, journal, channels=["webhook-1"])
    assert [e.kind for e in first] == ["plate_failed"] and again == []
    event = first[0]
    assert event.plate_id == plate and event.printer == "mk4-01" and event.details["requeued"] is True
    assert "thermal runaway" in event.message and "queued again" in event.message
    with AlertStore(path) as alerts:  # a restarted process (new connection, cursor from the database)
        with QueueStore(path) as store, Journal(path) as journal:
            assert collect(alerts, store, journal, channels=["webhook-1"]) == []


def test_webhook_down_then_back_gets_the_alert_exactly_once(hospfab_home):
    path, port = hospfab_home / "journal.sqlite3", free_port()
    add_channel(hospfab_home, "webhook", f"http://127.0.0.1:{port}/hooks/secret-token")
    config = load_alerts(hospfab_home)
    config.retry_s = 0.5
    save_alerts(hospfab_home, config)
    failed_plate(path)
    assert run_pass(path, hospfab_home, with_status=False)["failed"] == 1  # nobody listens yet
    with AlertStore(path) as alerts:
        row = alerts.deliveries()[0]
        assert row["state"] == "pending" and row["attempts"] == 1 and "secret-token" not in (row["last_error"] or "")
    receiver = Receiver(port)
    try:
        with AlertStore(path) as alerts:
            assert deliver_due(alerts, config)["sent"] == 0  # backoff: not due yet
        time.sleep(0.6)
        assert run_pass(path, hospfab_home, with_status=False)["sent"] == 1
        time.sleep(0.6)
        assert run_pass(path, hospfab_home, with_status=False) == {"new_events": [], "sent": 0, "failed": 0}
    finally:
        receiver.stop()
    assert len(receiver.received) == 1
    body = receiver.received[0]
    assert body["text"].startswith("hospfab: Plate ") and body["hospfab"]["kind"] == "plate_failed"


def test_email_and_command_channels(hospfab_home, smtp_server, tmp_path):
    controller, handler = smtp_server
    path = hospfab_home / "journal.sqlite3"
    out = tmp_path / "alert.json"
    add_channel(hospfab_home, "email", "nightshift@hospital.example")
    add_channel(hospfab_home, "command", f"{sys.executable} -c \"import sys; open('{out}', 'w').write(sys.stdin.read())\"")
    config = load_alerts(hospfab_home)
    config.smtp.host, config.smtp.port = "127.0.0.1", controller.port
    save_alerts(hospfab_home, config)
    failed_plate(path)
    result = run_pass(path, hospfab_home, with_status=False)
    assert result["sent"] == 2 and result["failed"] == 0
    assert len(handler.messages) == 1 and handler.messages[0].rcpt_tos == ["nightshift@hospital.example"]
    text = handler.messages[0].content.decode()
    assert "Subject: [hospfab] plate failed: mk4-01" in text and "thermal runaway" in text
    assert json.loads(out.read_text())["hospfab"]["kind"] == "plate_failed"


def test_an_alert_command_inherits_no_secret_from_the_environment(hospfab_home, tmp_path, monkeypatch):
    path = hospfab_home / "journal.sqlite3"
    out = tmp_path / "env.json"
    monkeypatch.setenv("HOSPFAB_DATABASE", "postgresql://hospfab:S3CRET-DB@db.example/hospfab")
    monkeypatch.setenv("HOSPFAB_SMTP_PASSWORD", "S3CRET-SMTP")
    monkeypatch.setenv("MK4_01_API_KEY", "S3CRET-KEY")
    monkeypatch.setenv("LC_TIME", "fr_FR.UTF-8")
    add_channel(hospfab_home, "command", f"{sys.executable} -c \"import json, os; "
                f"open('{out}', 'w').write(json.dumps(dict(os.environ)))\"")
    failed_plate(path)
    assert run_pass(path, hospfab_home, with_status=False)["sent"] == 1
    seen = json.loads(out.read_text())
    assert "S3CRET" not in out.read_text()
    assert seen["HOSPFAB_ALERT_KIND"] == "plate_failed" and seen["LC_TIME"] == "fr_FR.UTF-8"
    assert seen["PATH"] == os.environ["PATH"]


def test_alerts_cli_keeps_other_keys_hides_webhook_secrets_and_tests_channels(cli, hospfab_home):
    config_file = hospfab_home / "config.yaml"
    config_file.write_text("site: ward-b\n")
    port = free_port()
    out = cli("alerts", "add", "webhook", f"http://127.0.0.1:{port}/hooks/T0PSECRET", "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    assert out.json()["data"]["id"] == "webhook-1" and "T0PSECRET" not in out.stdout
    assert cli("alerts", "add", "email", "not-an-address").exit_code == 2
    listed = cli("alerts", "list")
    assert "webhook-1" in listed.stdout and "T0PSECRET" not in listed.stdout
    doc = yaml.safe_load(config_file.read_text())
    assert doc["site"] == "ward-b" and doc["alerts"]["channels"][0]["target"].endswith("T0PSECRET")
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    down = cli("alerts", "test", "--json")
    assert down.exit_code == 3 and "T0PSECRET" not in down.stdout
    receiver = Receiver(port)
    try:
        up = cli("alerts", "test", "--json")
    finally:
        receiver.stop()
    assert up.exit_code == 0 and up.json()["data"]["channels"] == {"webhook-1": "ok"}
    assert receiver.received[0]["hospfab"]["kind"] == "test"
    assert cli("alerts", "remove", "webhook-1", "--json").exit_code == 0
    assert cli("alerts", "remove", "webhook-1").exit_code == 2
    assert load_alerts(hospfab_home).channels == []


def test_lot_done_bed_wait_printer_error_and_runner_stop_each_once(hospfab_home):
    from types import SimpleNamespace

    from hospfab.alerts.deliver import runner_stopped
    from hospfab.fleet.status import PrinterStatus
    from hospfab.journal import Job
    from hospfab.octoprint.states import State
    from hospfab.queue.runner import RunSummary

    path = hospfab_home / "journal.sqlite3"
    with QueueStore(path) as store:
        lot = store.create_lot(ref="EAR", revision=1, quantity=2, recipes=[RECIPE], plates=[("mk4-01", 2)],
                               operator="t")  # fmt: skip
        plate = lot.plates[0].id
        store.claim(plate, runner="r", printer="mk4-01", job_id="job-9")
        store.mark_printing(plate, "job-9")
        store.finish_attempt(plate, "job-9", ok=True, units=2)
    with Journal(path) as journal:  # the plate's job ended two hours ago and nobody cleared the bed
        journal.add(Job(id="job-9", ref="EAR", revision=1, build_file="x.gcode", sha256="0" * 64, printer="mk4-01",
                        printer_url=None, printer_profile="mk4", material="petg", material_lot=None, operator="t",
                        created_at="2026-01-01T00:00:00+00:00", started_at="2026-01-01T00:00:01+00:00",
                        ended_at="2026-01-01T01:00:00+00:00", outcome="done"))  # fmt: skip
    printers = [SimpleNamespace(name="mk4-01", bed_clearing="manual")]
    broken = PrinterStatus("mk4-01", "u", "mk4", "petg", reachable=True, state=State("error"),
                           state_text="Offline after error", error="Thermal Runaway")
    fine = PrinterStatus("mk4-01", "u", "mk4", "petg", reachable=True, state=State("operational"))

    def kinds(statuses=None):
        with AlertStore(path) as alerts, QueueStore(path) as store, Journal(path) as journal:
            return sorted(e.kind for e in collect(alerts, store, journal, channels=[], printers=printers,
                                                  statuses=statuses, bed_wait_min=30))

    assert kinds([broken]) == ["bed_wait", "lot_done", "printer_error"]
    assert kinds([broken]) == []
    assert kinds([fine]) == [] and kinds([broken]) == ["printer_error"]  # a new episode
    with Journal(path) as journal:
        journal.mark_bed_clear("mk4-01", "night nurse")
    assert kinds([fine]) == []
    summary = RunSummary(dispatched=1, done=1, stopped="queue empty")
    runner_stopped(path, hospfab_home, "host:1:abc", summary)
    runner_stopped(path, hospfab_home, "host:1:abc", summary)
    with AlertStore(path) as alerts:
        stops = [e for e in alerts.events() if e.kind == "runner_stopped"]
    assert len(stops) == 1 and "queue empty" in stops[0].message


def test_the_runner_hook_returns_while_a_channel_hangs(hospfab_home):
    """A webhook host that accepts and never answers: the hook (called by the runner each round) returns at
    once, the pass goes on in its own thread, and the delivery stays pending for a retry."""
    from hospfab.alerts.deliver import AlertHook

    path = hospfab_home / "journal.sqlite3"
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)
    add_channel(hospfab_home, "webhook", f"http://127.0.0.1:{hung.getsockname()[1]}/hook")
    failed_plate(path)
    hook = AlertHook(path, hospfab_home, [], with_status=False)
    try:
        hook()
        assert hook._thread is not None and hook._thread.is_alive()  # the round went on; the pass still waits
        hook()  # a second round while the first pass runs starts nothing new
    finally:
        hung.close()
        hook._thread.join(30)
    with AlertStore(path) as alerts:
        [row] = alerts.deliveries()
    assert row["state"] == "pending" and row["attempts"] == 1


def self_signed(folder):
    """A certificate and key for 127.0.0.1 (the test's own CA, as a hospital's internal CA would be)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))  # fmt: skip
    cert_file, key_file = folder / "smtp.pem", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_file, key_file


def test_email_over_starttls_verifies_the_server_certificate(hospfab_home, tmp_path):
    import ssl

    from aiosmtpd.controller import Controller

    cert_file, key_file = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    messages = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            messages.append(session.ssl is not None)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port(), tls_context=context,
                            require_starttls=True)  # fmt: skip
    controller.start()
    try:
        path = hospfab_home / "journal.sqlite3"
        add_channel(hospfab_home, "email", "nightshift@hospital.example")
        config = load_alerts(hospfab_home)
        config.smtp.host, config.smtp.port, config.smtp.starttls = "127.0.0.1", controller.port, True
        config.retry_s = 0.2
        save_alerts(hospfab_home, config)
        failed_plate(path)
        untrusted = run_pass(path, hospfab_home, with_status=False)  # the test CA is not trusted yet
        assert untrusted["failed"] == 1 and messages == []
        config.smtp.ca_file = str(cert_file)
        save_alerts(hospfab_home, config)
        time.sleep(0.3)
        assert run_pass(path, hospfab_home, with_status=False)["sent"] == 1
    finally:
        controller.stop()
    assert messages == [True]  # delivered over TLS


def test_alerts_run_is_a_delivery_pass_for_sites_without_a_runner(cli, hospfab_home):
    port = free_port()
    receiver = Receiver(port)
    try:
        assert cli("alerts", "add", "webhook", f"http://127.0.0.1:{port}/h").exit_code == 0
        plate = failed_plate(hospfab_home / "journal.sqlite3")
        out = cli("alerts", "run", "--json")
        again = cli("alerts", "run")
    finally:
        receiver.stop()
    assert out.exit_code == 0, out.stdout + out.stderr
    data = out.json()["data"]
    assert data["sent"] == 1 and [e["plate_id"] for e in data["new_events"]] == [plate]
    assert again.exit_code == 0 and "0 new events; 0 alerts sent" in again.stdout
    assert len(receiver.received) == 1
