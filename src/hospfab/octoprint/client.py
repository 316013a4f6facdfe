"""A small typed synchronous OctoPrint REST client over httpx: one client (one connection pool) per printer.

- explicit connect and read timeouts; TLS verified for https;
- retries with exponential backoff for idempotent GETs only (never for uploads, starts or commands);
- HTTP statuses mapped to typed :mod:`hospfab.octoprint.exceptions` errors naming the printer;
- the API key is sent as ``X-Api-Key`` and never appears in messages or reprs.

Traps handled here (see FIELD-NOTES): an upload with ``print=true`` returns 201 even when the printer is busy
(:class:`UploadResult` carries ``effective_print``), and ``start`` with nothing selected answers 204 and does
nothing (:meth:`OctoPrintClient.start` checks the selection first and raises :class:`NothingSelected`).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from hospfab.errors import PrinterError
from hospfab.octoprint.exceptions import (
    NothingSelected,
    PrinterAuthRefused,
    PrinterConflict,
    PrinterNotFound,
    PrinterProtocolError,
    PrinterUnreachable,
    SendConflictUnconfirmed,
    SendUnconfirmed,
)
from hospfab.octoprint.states import BUSY_STATES, ERROR_STATES, IDLE_STATES, OPERATIONAL_STATES, State, parse_state

_RETRY_STATUSES = frozenset({502, 503, 504})
#: An upload may take this many times the read timeout to be answered (OctoPrint stores and analyses the file).
UPLOAD_TIMEOUT_FACTOR = 3.0
#: httpx errors raised before a request can have reached the server: whatever they say, nothing was sent.
_NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.LocalProtocolError, httpx.UnsupportedProtocol,
)
_TLS_LOCK = threading.Lock()
_TLS_CONTEXT: ssl.SSLContext | None = None


def verified_tls_context() -> ssl.SSLContext:
    """One certificate-verifying TLS context (certifi's CA bundle, as httpx uses), built once per process
    and shared by every client: building it costs ~50 ms of CPU, which would otherwise be paid per printer
    and serialise a concurrent fleet query."""
    global _TLS_CONTEXT
    with _TLS_LOCK:
        if _TLS_CONTEXT is None:
            import certifi

            _TLS_CONTEXT = ssl.create_default_context(cafile=certifi.where())
        return _TLS_CONTEXT


@dataclass(frozen=True)
class PrinterState:
    """What ``GET /api/printer`` says (or, when it answers 409, what ``/api/job`` says about the state)."""

    state: State
    text: str
    error: str | None = None
    temperatures: dict[str, dict[str, float | None]] = field(default_factory=dict)

    @property
    def is_operational(self) -> bool:
        return self.state in OPERATIONAL_STATES

    @property
    def is_idle(self) -> bool:
        return self.state in IDLE_STATES

    @property
    def is_busy(self) -> bool:
        return self.state in BUSY_STATES

    @property
    def is_error(self) -> bool:
        return self.state in ERROR_STATES


@dataclass(frozen=True)
class JobInfo:
    """What ``GET /api/job`` says: the selected file and the progress of the current job."""

    state: State
    state_text: str
    file_name: str | None
    completion: float | None  # percent, 0-100
    print_time_s: float | None
    print_time_left_s: float | None
    error: str | None = None


@dataclass(frozen=True)
class UploadResult:
    name: str  # the name OctoPrint stored (it sanitises names)
    effective_select: bool
    effective_print: bool


@dataclass(frozen=True)
class FileInfo:
    name: str
    size: int | None
    prints_success: int
    prints_failure: int
    last_success: bool | None  # outcome of the last print of this file, None if never printed
    last_date: datetime | None
    userdata: dict[str, Any] | None = None


def _redact_url(url: str) -> str:
    """The URL without any user:password part."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class OctoPrintClient:
    """Client for one OctoPrint server. Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        name: str | None = None,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        retries: int = 2,
        backoff_s: float = 0.25,
    ) -> None:
        self.url = url.rstrip("/")
        self.name = name or _redact_url(self.url)
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._secret = api_key
        # https: certificates verified. Plain http never negotiates TLS (and redirects are not followed), so
        # it gets no CA bundle, which would only cost start-up time.
        https = urlsplit(self.url).scheme == "https"
        self._http = httpx.Client(
            base_url=self.url,
            headers={"X-Api-Key": api_key, "Accept": "application/json"},
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            verify=verified_tls_context() if https else False,
            follow_redirects=False,
            trust_env=False,
        )

    def __repr__(self) -> str:
        return f"OctoPrintClient(name={self.name!r}, url={_redact_url(self.url)!r})"

    def __enter__(self) -> OctoPrintClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- transport -------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, expect: tuple[int, ...], **kwargs: Any) -> httpx.Response:
        attempts = 1 + (self.retries if method == "GET" else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TimeoutException as err:
                if last:
                    raise PrinterUnreachable(
                        f"printer {self.name}: no answer from {_redact_url(self.url)} "
                        f"({type(err).__name__}: timed out)"
                    ) from None
            except httpx.LocalProtocolError:
                # httpx's text for a bad header quotes the header value (the API key): never show it
                raise PrinterError(
                    f"printer {self.name}: the request could not be built (invalid API key or URL characters)",
                    code="printer_request_invalid",
                ) from None
            except httpx.TransportError as err:
                if last:
                    reason = self._scrub(str(err).split("\n")[0]) or type(err).__name__
                    raise PrinterUnreachable(
                        f"printer {self.name}: cannot reach {_redact_url(self.url)} ({reason})"
                    ) from None
            else:
                if response.status_code in expect:
                    return response
                if not (response.status_code in _RETRY_STATUSES and not last):
                    self._raise_for(method, path, response)
            time.sleep(self.backoff_s * (2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _scrub(self, text: str) -> str:
        """``text`` without the API key (whatever a library put in its message)."""
        if self._secret and self._secret in text:
            text = text.replace(self._secret, "<api key>")
        return text

    def _raise_for(self, method: str, path: str, response: httpx.Response) -> None:
        status = response.status_code
        detail = self._scrub(_error_text(response))
        where = f"printer {self.name}: {method} {path}"
        if status in (401, 403):
            raise PrinterAuthRefused(f"printer {self.name}: the API key was refused (HTTP {status})")
        if status == 404:
            raise PrinterNotFound(f"{where}: not found{detail}")
        if status == 409:
            raise PrinterConflict(f"{where}: refused, printer busy or not operational (409){detail}")
        raise PrinterProtocolError(f"{where}: unexpected HTTP {status}{detail}")

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise PrinterProtocolError(
                f"printer {self.name}: unreadable answer to {response.request.url.path} (not JSON)"
            ) from None
        if not isinstance(data, dict):
            raise PrinterProtocolError(f"printer {self.name}: unexpected answer to {response.request.url.path}")
        return data

    # -- read ------------------------------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        """``GET /api/version``: ``{"api": "0.1", "server": "1.11.8", "text": "OctoPrint 1.11.8"}``."""
        return self._json(self._request("GET", "/api/version", expect=(200,)))

    def printer_state(self) -> PrinterState:
        """The printer's state. A disconnected or failed printer (409) is a state, not an exception."""
        response = self._request("GET", "/api/printer", expect=(200, 409))
        if response.status_code == 409:
            job = self.job()
            state: State = job.state if job.state is not State.UNKNOWN else State.OFFLINE
            return PrinterState(state=state, text=job.state_text or "Offline", error=job.error)
        data = self._json(response)
        raw_state = data.get("state") or {}
        text = str(raw_state.get("text") or "")
        state = parse_state(text, raw_state.get("flags"))
        error = raw_state.get("error") or None
        temperatures = {
            tool: {"actual": values.get("actual"), "target": values.get("target")}
            for tool, values in (data.get("temperature") or {}).items()
            if isinstance(values, dict)
        }
        return PrinterState(state=state, text=text, error=error, temperatures=temperatures)

    def job(self) -> JobInfo:
        """``GET /api/job``: the selected file, the state and the progress."""
        data = self._json(self._request("GET", "/api/job", expect=(200,)))
        job = data.get("job") or {}
        progress = data.get("progress") or {}
        file_name = (job.get("file") or {}).get("name") or None
        text = str(data.get("state") or "")
        return JobInfo(
            state=parse_state(text),
            state_text=text,
            file_name=file_name,
            completion=_float(progress.get("completion")),
            print_time_s=_float(progress.get("printTime")),
            print_time_left_s=_float(progress.get("printTimeLeft")),
            error=data.get("error") or None,
        )

    def file_info(self, name: str) -> FileInfo:
        """``GET /api/files/local/<name>``: print statistics of that file (raises PrinterNotFound)."""
        data = self._json(self._request("GET", f"/api/files/local/{quote(name)}", expect=(200,)))
        prints = data.get("prints") or {}
        last = prints.get("last") or {}
        last_date = last.get("date")
        return FileInfo(
            name=str(data.get("name") or name),
            size=data.get("size"),
            prints_success=int(prints.get("success") or 0),
            prints_failure=int(prints.get("failure") or 0),
            last_success=last.get("success") if "success" in last else None,
            last_date=datetime.fromtimestamp(last_date, tz=timezone.utc) if last_date else None,
            userdata=data.get("userdata"),
        )

    def list_files(self) -> list[str]:
        """Names of the files stored on the printer's host (top level of ``local``)."""
        data = self._json(self._request("GET", "/api/files/local", expect=(200,)))
        return [str(f["name"]) for f in data.get("files") or [] if f.get("type") != "folder"]

    # -- act (never retried) ---------------------------------------------------------------------------

    def upload(
        self,
        path: str | Path,
        remote_name: str,
        *,
        userdata: dict[str, Any] | None = None,
        select: bool = True,
        print_: bool = False,
        no_overwrite: bool = True,
    ) -> UploadResult:
        """Upload a G-code file to ``/api/files/local``. Check ``effective_print``: OctoPrint answers 201
        even when it did not start the print (busy or disconnected printer).

        Raises :class:`PrinterUnreachable` only when nothing can have been sent (connection refused, connect
        timeout), :class:`SendUnconfirmed` when the request may have reached OctoPrint but the answer was lost
        or wrong (timeout, dropped connection, truncated body, 5xx, 409): then ask the printer before deciding.
        Answers may take ``UPLOAD_TIMEOUT_FACTOR`` times the read timeout. Never retried."""
        form = {"select": _bool(select), "print": _bool(print_), "noOverwrite": _bool(no_overwrite)}
        if userdata is not None:
            form["userdata"] = json.dumps(userdata, sort_keys=True)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as err:
            raise PrinterError(
                f"printer {self.name}: cannot read {path}: {err.strerror}", code="printer_request_invalid"
            ) from None
        timeout = httpx.Timeout(self.read_timeout * UPLOAD_TIMEOUT_FACTOR, connect=self.connect_timeout)
        with handle:
            try:
                response = self._http.request(
                    "POST",
                    "/api/files/local",
                    files={"file": (remote_name, handle, "application/octet-stream")},
                    data=form,
                    timeout=timeout,
                )
            except _NOT_SENT_ERRORS as err:
                if isinstance(err, httpx.LocalProtocolError):
                    raise PrinterError(
                        f"printer {self.name}: the upload could not be built (invalid API key or URL characters)",
                        code="printer_request_invalid",
                    ) from None
                reason = "timed out" if isinstance(err, httpx.TimeoutException) else type(err).__name__
                raise PrinterUnreachable(
                    f"printer {self.name}: cannot reach {_redact_url(self.url)} ({reason}); nothing was sent"
                ) from None
            except httpx.TimeoutException as err:
                raise SendUnconfirmed(
                    f"printer {self.name}: no answer to the upload of {remote_name} ({type(err).__name__})"
                ) from None
            except httpx.TransportError as err:
                raise SendUnconfirmed(
                    f"printer {self.name}: the connection broke during the upload of {remote_name} "
                    f"({type(err).__name__})"
                ) from None
        status = response.status_code
        if status in (401, 403):
            raise PrinterAuthRefused(f"printer {self.name}: the API key was refused (HTTP {status})")
        if status not in (200, 201):
            # a 5xx or a 409 may come after OctoPrint stored and started the file (a proxy, a plugin)
            kind = SendConflictUnconfirmed if status == 409 else SendUnconfirmed
            raise kind(
                f"printer {self.name}: HTTP {status} to the upload of {remote_name}{self._scrub(_error_text(response))}"
            )
        try:
            data = self._json(response)
        except PrinterProtocolError as err:
            raise SendUnconfirmed(f"{err.message} after the upload of {remote_name}") from None
        stored = ((data.get("files") or {}).get("local") or {}).get("name") or remote_name
        return UploadResult(
            name=str(stored),
            effective_select=bool(data.get("effectiveSelect", False)),
            effective_print=bool(data.get("effectivePrint", False)),
        )

    def select(self, name: str, *, print_: bool = False) -> None:
        """Select an already uploaded file (and optionally start it)."""
        self._request(
            "POST",
            f"/api/files/local/{quote(name)}",
            expect=(204,),
            json={"command": "select", "print": print_},
        )

    def start(self) -> None:
        """Start the selected file. Raises NothingSelected rather than letting OctoPrint silently ignore it,
        and PrinterConflict (409) when the printer is not operational or already printing."""
        if self.job().file_name is None:
            raise NothingSelected(f"printer {self.name}: cannot start, no file is selected")
        self._request("POST", "/api/job", expect=(204,), json={"command": "start"})

    def cancel(self) -> None:
        """Cancel the current job (409 when nothing is printing)."""
        self._request("POST", "/api/job", expect=(204,), json={"command": "cancel"})

    def delete_file(self, name: str) -> None:
        """Delete a stored file (409 while it is being printed, PrinterNotFound when absent)."""
        self._request("DELETE", f"/api/files/local/{quote(name)}", expect=(204,))

    def send_commands(self, commands: list[str]) -> None:
        """Send raw G-code commands (409 when the printer is not operational)."""
        self._request("POST", "/api/printer/command", expect=(204,), json={"commands": list(commands)})

    def connect(self) -> None:
        """Ask OctoPrint to (re)connect to the printer with its configured port and baud rate."""
        self._request("POST", "/api/connection", expect=(204,), json={"command": "connect"})

    def disconnect(self) -> None:
        self._request("POST", "/api/connection", expect=(204,), json={"command": "disconnect"})

    def wait_for(self, states: frozenset[State] | set[State], timeout_s: float, poll_s: float = 0.1) -> PrinterState:
        """Poll until the printer is in one of ``states``; PrinterError after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            current = self.printer_state()
            if current.state in states:
                return current
            if time.monotonic() >= deadline:
                wanted = ", ".join(sorted(s.value for s in states))
                raise PrinterError(
                    f"printer {self.name}: still {current.text or current.state.value} after {timeout_s:g} s "
                    f"(waiting for {wanted})"
                )
            time.sleep(poll_s)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    if isinstance(data, dict) and data.get("error"):
        return f": {str(data['error']).splitlines()[0][:200]}"
    return ""
