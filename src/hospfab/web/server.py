"""The Starlette application behind ``hospfab serve``: one page, ``/api/status``, static files. Read-only.

The page is rendered by a Jinja2 template (autoescaped) and kept live by ``static/live.js``, which fetches
``/api/status`` every few seconds and rewrites the tables in place. Nothing is loaded from the internet. With
a token, every request must carry it (``Authorization: Bearer``, HTTP basic auth with the token as password,
or ``?token=`` on the page, which the script then sends as a header); tokens are compared in constant time.
The page's own script and style sheet under ``/static/`` are served without it (they hold no data).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).resolve().parent
CACHE_S = 1.0  # several screens share one round of printer queries


def _clock(iso: str | None) -> str:
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone().strftime("%H:%M")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    env.filters["clock"] = _clock
    env.filters["duration"] = _duration
    return env


class StatusSource:
    """The fleet view, computed at most once per ``CACHE_S`` whoever asks; alert delivery in the background."""

    def __init__(self, settings: Any, printers: list[Any], *, clearing_delay_s: float | None = None,
                 deliver_alerts: bool = True, timeout: float = 2.5) -> None:
        self.settings = settings
        self.printers = printers
        self.clearing_delay_s, self.timeout = clearing_delay_s, timeout
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, Any]] | None = None
        self.hook = None
        if deliver_alerts:
            from hospfab.alerts.deliver import AlertHook

            self.hook = AlertHook(settings.database_target, settings.config_dir, self.printers, with_status=False)

    def get(self) -> dict[str, Any]:
        from hospfab.web.status import fleet_view

        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > CACHE_S:
                view = fleet_view(self.settings.database_target, self.printers, timeout=self.timeout,
                                  config_dir=self.settings.config_dir, clearing_delay_s=self.clearing_delay_s)
                self._cached = (time.monotonic(), view.as_dict())
                if self.hook is not None:
                    self.hook()
            return self._cached[1]


class TokenGuard:
    """ASGI middleware: every HTTP request must carry the token (see the module docstring)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token

    @staticmethod
    def public(scope: Any) -> bool:
        """The page's own script and style sheet hold no fleet data: a browser opened on ``/?token=`` loads them
        without the token (relative URLs drop the query), so they are served to anyone."""
        return str(scope.get("path", "")).startswith("/static/")

    def authorized(self, request: Request) -> bool:
        offered = request.query_params.get("token", "")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            offered = header[7:].strip()
        elif header.lower().startswith("basic "):
            try:
                offered = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                offered = ""
        return bool(offered) and secrets.compare_digest(offered.encode(), self.token.encode())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not self.public(scope) and not self.authorized(Request(scope)):
            response = PlainTextResponse("token required", status_code=401,
                                         headers={"WWW-Authenticate": 'Basic realm="hospfab"'})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(source: StatusSource, *, token: str | None = None, refresh_s: float = 3.0) -> Starlette:
    env = templates()

    async def page(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        status = await run_in_threadpool(source.get)
        html = env.get_template("index.html").render(status=status, refresh_ms=int(refresh_s * 1000))
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def api_status(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        return JSONResponse(await run_in_threadpool(source.get), headers={"Cache-Control": "no-store"})

    routes = [
        Route("/", page),
        Route("/api/status", api_status),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(TokenGuard, token=token)] if token else []
    return Starlette(routes=routes, middleware=middleware)
