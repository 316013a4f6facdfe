"""The check registry, results and the runner."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hospfab.settings import Settings


class Status(str, Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Result:
    """One finding: ``key`` names the check (``slicer``, ``printer:mk4-01``...), ``fix`` says what to do."""

    key: str
    status: Status
    message: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "status": self.status.value, "message": self.message, "fix": self.fix}


@dataclass
class Context:
    """What the checks look at: the resolved settings, and facts one check leaves for later ones."""

    settings: Settings
    printer_timeout_s: float = 5.0
    facts: dict[str, Any] = field(default_factory=dict)


CheckFn = Callable[[Context], "Result | Iterable[Result]"]


@dataclass(frozen=True)
class Check:
    key: str
    fn: CheckFn
    title: str


#: key -> check, in the order they run and are shown.
REGISTRY: dict[str, Check] = {}

#: modules holding the checks, imported on first run (each registers its functions).
CHECK_MODULES = ("hospfab.doctor.system", "hospfab.doctor.data", "hospfab.doctor.fleet", "hospfab.doctor.journal")


def check(key: str, title: str) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn`` as the check ``key`` (``title``: what it looks at, for people)."""

    def decorate(fn: CheckFn) -> CheckFn:
        REGISTRY[key] = Check(key, fn, title)
        return fn

    return decorate


def load_checks() -> dict[str, Check]:
    for module in CHECK_MODULES:
        importlib.import_module(module)
    return REGISTRY


def run_checks(context: Context, only: Iterable[str] | None = None) -> list[Result]:
    """Run every registered check (or ``only`` those keys); a check that crashes is a FAIL, not a crash."""
    from hospfab.errors import HospfabError

    wanted = set(only) if only else None
    results: list[Result] = []
    for key, item in load_checks().items():
        if wanted is not None and key not in wanted:
            continue
        try:
            out = item.fn(context)
            results.extend([out] if isinstance(out, Result) else list(out))
        except HospfabError as err:
            results.append(Result(key, Status.FAIL, err.message))
        except Exception as err:  # noqa: BLE001 - a broken check must not hide the others
            results.append(Result(key, Status.FAIL, f"check crashed: {type(err).__name__}: {err}",
                                  "report this as a hospfab bug (HOSPFAB_DEBUG=1 for details)"))
    return results
