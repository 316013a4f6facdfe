"""The fleet page in a real headless browser (Debian's chromium driven by Playwright) against real OctoPrint
servers and a running queue: rows appear, progress changes without a reload, a failed plate shows up, and
axe-core finds no accessibility violation. Also the token guard and the loopback rule of `hospfab serve`.

Set HOSPFAB_UPDATE_SCREENSHOT=1 to refresh docs/fleet-page.png (shown in the README).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from octoprint_fixtures import wait_until
from test_alerts import free_port
from test_print_support import write_fleet

from hospfab.catalog import Catalog
from hospfab.fleet import Fleet
from hospfab.queue.runner import QueueRunner, RunnerOptions

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REF = "PAGE-LOT"

pytestmark = pytest.mark.octoprint


@pytest.fixture(scope="session")
def page_catalog(tmp_path_factory) -> Path:
    """PAGE-LOT@1: one unit per plate, a ~20 s job (one-second dwells), so progress can be seen moving."""
    from meshes import box, write_binary
    from octoprint_fixtures import make_gcode

    from test_print_support import TEST_META, trusted_test_key

    base = tmp_path_factory.mktemp("page-catalog")
    root, work = base / "catalog", base / "work"
    work.mkdir()
    private, catalog = trusted_test_key(root, work, "page-validator")
    catalog.new(REF, "page test part", write_binary(work / "part.stl", box((10.0, 10.0, 2.0))), meta=TEST_META)
    catalog.add_recipe(f"{REF}@1", make_gcode(work / "page.gcode", moves=20, dwell_s=20), printer="virtual-test",
                       material="pla", process="standard", copies=1, estimates={"print_time_s": 20})  # fmt: skip
    catalog.validate(f"{REF}@1", key_file=private)
    return root




def start_serve(*args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "hospfab", "serve", "--port", str(port), "--refresh", "1", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stdout.read()}")
        try:
            return httpx.get(url + "static/live.js", timeout=1).status_code in (200, 401)
        except httpx.HTTPError:
            return False

    wait_until(up, 30)
    return proc, url


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def text_of(page, selector: str) -> str:
    return page.locator(selector).inner_text(timeout=2000).strip()


def test_live_page_over_a_running_queue(octoprint_server_factory, page_catalog, cli, hospfab_home, tmp_path,
                                        monkeypatch):
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    servers = octoprint_server_factory(2)
    fleet = write_fleet(tmp_path / "fleet.yaml", servers, monkeypatch, bed_clearing="manual",
                        **{"vt-1": {"site": "ward-b"}})  # fmt: skip
    monkeypatch.setenv("HOSPFAB_CATALOG", str(page_catalog))
    monkeypatch.setenv("HOSPFAB_TRUST_STORE", str(page_catalog.parent / "trust.yaml"))
    monkeypatch.setenv("HOSPFAB_FLEET", str(fleet))
    shown = cli("batch", REF, "--quantity", "4", "--plan")
    assert shown.exit_code == 0, shown.stdout + shown.stderr
    words = " ".join(shown.stdout.split())  # rich wraps at the terminal width
    assert "2 units scheduled" in words and "2 plates wait for someone to clear a bed" in words
    assert "Bed clearing: nobody clears a bed" in words
    rounds = cli("batch", REF, "--quantity", "4", "--plan", "--staff-rounds", "30", "--json").json()["data"]
    assert rounds["plates_unscheduled"] == 0 and rounds["bed_clearing"]["clearing_delay_s"] == 1800
    lot = cli("batch", REF, "--quantity", "4", "--by", "23:59", "--json")
    assert lot.exit_code == 0, lot.stdout + lot.stderr
    plan = lot.json()["data"]
    assert plan["units_scheduled"] == 2 and plan["plates_unscheduled"] == 2  # nobody clears a bed at night

    stop_runner = threading.Event()

    def run_queue() -> None:
        opts = RunnerOptions(poll_s=0.3)
        with QueueRunner(hospfab_home / "journal.sqlite3", Fleet.load(fleet).printers, catalog=Catalog(page_catalog),
                         options=opts) as runner:  # fmt: skip
            while not stop_runner.is_set():
                runner.step()
                time.sleep(0.3)

    runner = threading.Thread(target=run_queue, daemon=True)
    runner.start()
    proc, url = start_serve()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(url)
            page.wait_for_selector('tr[data-printer="vt-0"]')
            page.wait_for_selector('tr[data-printer="vt-1"]')
            assert "ward-b" in text_of(page, 'tr[data-printer="vt-1"] th')
            page.evaluate("window.__sameDocument = true")  # lost if the page reloads
            first = wait_until(lambda: (text_of(page, 'tr[data-printer="vt-0"] td.progress')
                                        if "PAGE-LOT@1" in text_of(page, 'tr[data-printer="vt-0"] td.job') else ""))
            wait_until(lambda: text_of(page, 'tr[data-printer="vt-0"] td.progress') not in ("", first), 40)
            assert page.evaluate("window.__sameDocument") is True
            assert "pla" in text_of(page, 'tr[data-printer="vt-0"] td.material')
            assert "LOT-0" in text_of(page, 'tr[data-printer="vt-0"] td.material')
            lot_row = page.locator("#lots tbody tr").first
            assert "PAGE-LOT@1" in lot_row.inner_text()

            results = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa"]}})
            assert results.violations_count == 0, results.generate_report()

            with servers[1].client() as client:  # a firmware error on vt-1 mid-plate
                client.send_commands(["!!DEBUG:trigger_fatal_error_marlin"])
            page.wait_for_selector('#events li[data-kind="plate_failed"]', timeout=60000)
            assert "vt-1" in page.locator('#events li[data-kind="plate_failed"]').first.inner_text()
            wait_until(lambda: "error" in text_of(page, 'tr[data-printer="vt-1"] td.state').lower(), 30)
            # vt-0 finishes its plate; its bed is manual: the page says since when it waits for a person
            wait_until(lambda: "waiting for bed clear since" in text_of(page, 'tr[data-printer="vt-0"] td.bed'), 60)
            assert page.evaluate("window.__sameDocument") is True
            if os.environ.get("HOSPFAB_UPDATE_SCREENSHOT"):
                shot = tmp_path / "fleet.png"
                page.screenshot(path=str(shot))
                from PIL import Image

                Image.open(shot).convert("RGB").quantize(colors=64).save(REPO / "docs" / "fleet-page.png",
                                                                       optimize=True)  # fmt: skip

            browser.close()
        listed = cli("printers", "status", "--json").json()["data"]["printers"]
        assert {p["name"]: bool(p["waiting_for_clearing_since"]) for p in listed} == {"vt-0": True, "vt-1": True}
        status = httpx.get(url + "api/status", timeout=10).json()
        assert {p["name"] for p in status["printers"]} == {"vt-0", "vt-1"}
        assert any(e["kind"] == "plate_failed" for e in status["events"])
    finally:
        stop(proc)
        stop_runner.set()
        runner.join(30)


def test_serve_off_loopback_needs_a_token_and_the_token_guards_every_request(cli, hospfab_home):
    refused = cli("serve", "--host", "0.0.0.0", "--json")
    assert refused.exit_code == 2 and "--token" in refused.json()["errors"][0]["message"]
    token = "night-shift-token-1"
    proc, url = start_serve("--token", token, "--no-alerts")
    try:
        assert httpx.get(url + "api/status", timeout=10).status_code == 401
        assert httpx.get(url + "api/status", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        ok = httpx.get(url + "api/status", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert ok.status_code == 200 and ok.json()["printers"] == []
        assert httpx.get(url, auth=("nurse", token), timeout=10).status_code == 200
        assert httpx.get(url + f"?token={token}", timeout=10).status_code == 200
    finally:
        stop(proc)
