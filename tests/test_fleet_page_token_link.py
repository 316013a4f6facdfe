"""`hospfab serve --token`: a wall screen opened as `http://host:port/?token=...` (the way the page offers for
screens that cannot send a header) must load its script and style sheet, as a browser does: relative URLs,
without the query and without any credential. Otherwise the page is never live and unstyled."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import httpx

from test_fleet_page import start_serve, stop


def test_page_opened_with_the_token_in_its_url_loads_its_assets(hospfab_home):
    token = "night-shift-token-1"
    proc, url = start_serve("--token", token, "--no-alerts")
    try:
        page_url = url + f"?token={token}"
        page = httpx.get(page_url, timeout=10)
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"#]+)"', page.text)
        assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets), assets
        for asset in assets:
            got = httpx.get(urljoin(page_url, asset), timeout=10)  # what a browser requests: no token
            assert got.status_code == 200, f"{asset}: {got.status_code}"
        # the data stays guarded
        assert httpx.get(url + "api/status", timeout=10).status_code == 401
        assert httpx.get(url, timeout=10).status_code == 401
    finally:
        stop(proc)
