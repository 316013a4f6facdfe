"""The OctoPrint client against real local OctoPrint servers (Virtual Printer)."""

from __future__ import annotations

import time
import uuid

import pytest
from octoprint_fixtures import wait_until

from hospfab.errors import ExitCode, PrinterError
from hospfab.octoprint import (
    NothingSelected,
    OctoPrintClient,
    PrinterAuthRefused,
    PrinterConflict,
    PrinterNotFound,
    PrinterUnreachable,
    State,
)
from hospfab.octoprint.localserver import free_port
from hospfab.octoprint.states import BUSY_STATES, ERROR_STATES, IDLE_STATES

pytestmark = pytest.mark.octoprint


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}.gcode"




def test_version_and_idle_state(octoprint_server):
    with octoprint_server.client() as client:
        assert client.version()["server"].startswith("1.")
        state = client.printer_state()
        assert state.state is State.OPERATIONAL and state.is_idle and not state.is_busy
        job = client.job()
        assert job.file_name is None and job.state is State.OPERATIONAL


def test_print_to_done_and_file_statistics(octoprint_server, gcode_file):
    name = unique("done")
    with octoprint_server.client() as client:
        userdata = {"ref": "KNOB-1", "revision": 2, "job_id": "j1", "sha256": "ab" * 32}
        result = client.upload(gcode_file(moves=100), name, userdata=userdata, select=True, print_=True)
        assert result.name == name and result.effective_select and result.effective_print
        info = wait_until(lambda: (i := client.file_info(name)).prints_success and i)
        assert info.prints_failure == 0 and info.last_success is True
        assert info.userdata == userdata
        job = client.job()
        assert job.file_name == name and job.completion == pytest.approx(100.0)


def test_bad_api_key_is_refused_and_never_shown(octoprint_server):
    secret = "WRONG-KEY-" + uuid.uuid4().hex
    client = OctoPrintClient(octoprint_server.url, secret, name="bench-a")
    with client, pytest.raises(PrinterAuthRefused) as caught:
        client.printer_state()
    err = caught.value
    assert err.exit_code == ExitCode.PRINTER
    assert "bench-a" in err.message and "refused" in err.message
    assert secret not in err.message and secret not in repr(client) and secret not in repr(err)


def test_unreachable_printer_closed_port():
    port = free_port()  # nothing listens there
    with OctoPrintClient(f"http://127.0.0.1:{port}", "KEY", name="ghost", retries=1, backoff_s=0.01) as client:
        with pytest.raises(PrinterUnreachable) as caught:
            client.version()
    assert "ghost" in caught.value.message and str(port) in caught.value.message
    assert isinstance(caught.value, PrinterError) and caught.value.exit_code == ExitCode.PRINTER


def test_upload_with_print_to_busy_printer_is_not_effective(octoprint_server, gcode_file):
    with octoprint_server.client() as client:
        first = client.upload(gcode_file("long.gcode", moves=5, dwell_s=30), unique("long"), print_=True)
        assert first.effective_print
        wait_until(lambda: client.printer_state().state in BUSY_STATES)
        second = client.upload(gcode_file("other.gcode", moves=5), unique("other"), print_=True)
        assert second.effective_print is False and second.effective_select is False
        with pytest.raises(PrinterConflict):
            client.start()  # already printing: 409
        with pytest.raises(PrinterConflict):
            client.delete_file(first.name)  # in use
        client.cancel()
        client.wait_for(IDLE_STATES, 15)
        assert client.file_info(first.name).prints_failure == 1


def test_start_with_nothing_selected_is_detected(octoprint_server, gcode_file):
    with octoprint_server.client() as client:
        with pytest.raises(NothingSelected) as caught:
            client.start()
        assert "no file is selected" in caught.value.message
        uploaded = client.upload(gcode_file(moves=20), unique("sel"), select=True, print_=False)
        assert uploaded.effective_select and not uploaded.effective_print
        client.start()
        wait_until(lambda: client.file_info(uploaded.name).prints_success == 1)


def test_firmware_error_shows_error_state(octoprint_server, gcode_file):
    with octoprint_server.client() as client:
        uploaded = client.upload(gcode_file(moves=5, dwell_s=30), unique("fw"), print_=True)
        wait_until(lambda: client.printer_state().state in BUSY_STATES)
        client.send_commands(["!!DEBUG:trigger_fatal_error_marlin"])
        state = wait_until(lambda: (s := client.printer_state()).state in ERROR_STATES and s)
        assert state.is_error and not state.is_operational
        assert state.error  # the printer's reason
        job = client.job()
        assert job.state in ERROR_STATES and job.error
        assert client.file_info(uploaded.name).prints_failure == 1
        with pytest.raises(PrinterConflict):
            client.send_commands(["M105"])
        client.connect()
        client.wait_for(IDLE_STATES, 20)


def test_not_found_and_delete(octoprint_server, gcode_file):
    with octoprint_server.client() as client:
        with pytest.raises(PrinterNotFound):
            client.file_info("missing.gcode")
        uploaded = client.upload(gcode_file(), unique("del"), select=False)
        assert uploaded.name in client.list_files()
        client.delete_file(uploaded.name)
        assert uploaded.name not in client.list_files()
        client.upload(gcode_file(), "dup.gcode", select=False)
        with pytest.raises(PrinterConflict):
            client.upload(gcode_file(), "dup.gcode", select=False)  # noOverwrite: names are never reused


def test_timeout_is_reported_as_unreachable():
    import socket

    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with OctoPrintClient(url, "KEY", name="mute", read_timeout=0.3, retries=0) as client:
            with pytest.raises(PrinterUnreachable) as caught:
                client.job()
    assert "mute" in caught.value.message and "timed out" in caught.value.message
