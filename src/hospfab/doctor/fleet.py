"""The fleet file, API key files, each printer reachable with a known profile and material."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from hospfab.doctor.base import Context, Result, Status, check

if TYPE_CHECKING:
    from hospfab.fleet.model import PrinterConfig
from hospfab.errors import HospfabError


@check("fleet", "fleet file valid, API keys private, printers reachable")
def fleet(context: Context) -> list[Result]:
    from hospfab.fleet import Fleet

    path = context.settings.fleet_path
    if not path.exists():
        return [Result("fleet", Status.WARN, f"{path}: no fleet file (no printer configured)",
                       "add printers with `hospfab printers add`, or set `fleet:` with `hospfab init --fleet`")]
    try:
        loaded = Fleet.load(path)
    except HospfabError as err:
        return [Result("fleet", Status.FAIL, err.message, f"fix {path} (`hospfab printers` edits it)")]
    results = [Result("fleet", Status.OK, f"{path}: {len(loaded.printers)} printer(s)")]
    store = context.facts.get("profile_store") or context.settings.profile_store()
    usable = []
    for printer in loaded.printers:
        key_problem = _key_problem(printer)
        if key_problem:
            results.append(Result(f"key:{printer.name}", Status.FAIL, key_problem[0], key_problem[1]))
        else:
            usable.append(printer)
        for kind, name in (("printer", printer.profile), ("material", printer.material)):
            try:
                store.view(kind, name)
            except HospfabError as err:
                results.append(Result(f"profile:{printer.name}", Status.FAIL, f"{kind} profile: {err.message}",
                                      f"fix printer {printer.name} in {path} or add the profile to the site "
                                      "profiles folder"))
    results.extend(_reachable(context, usable))
    return results


def _key_problem(printer: PrinterConfig) -> tuple[str, str] | None:
    if printer.api_key_env is not None:
        if not os.environ.get(printer.api_key_env, "").strip():
            return (f"printer {printer.name}: environment variable {printer.api_key_env} is not set",
                    f"export {printer.api_key_env}=... in this account's environment")
        return None
    path = printer.key_file_path()
    if path is None:  # the fleet model requires one of api_key_env and api_key_file: not reached
        return (f"printer {printer.name}: no API key", "set api_key_env or api_key_file for this printer")
    try:
        st = path.stat()
    except OSError as err:
        return (f"printer {printer.name}: API key file {path}: {err.strerror}", f"create {path} (mode 0600)")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        return (f"printer {printer.name}: API key file {path} has mode {mode:04o}: others can read it",
                f"chmod 600 {path}")
    if st.st_uid != os.getuid():
        return (f"printer {printer.name}: API key file {path} belongs to another user",
                f"chown {os.getuid()} {path}")
    return None


def _reachable(context: Context, printers: list[PrinterConfig]) -> list[Result]:
    from hospfab.fleet.status import status_all

    results = []
    for st in status_all(printers, timeout=context.printer_timeout_s):
        key = f"printer:{st.name}"
        if not st.reachable:
            results.append(Result(key, Status.FAIL, f"{st.name} ({st.url}): {st.error}",
                                  "check the printer is on, OctoPrint runs, the URL and the API key"))
        elif not st.ok:
            results.append(Result(key, Status.WARN, f"{st.name}: {st.state_text or st.error}",
                                  "look at the printer (`hospfab printers`)"))
        else:
            results.append(Result(key, Status.OK, f"{st.name}: {st.state_text} ({st.profile}, {st.material})"))
    return results
