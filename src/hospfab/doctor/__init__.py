"""``hospfab doctor``: is everything this workstation needs in place?

Each check is one small function registered under a ``key`` (:func:`check`), run with a :class:`Context`
(the resolved settings) and returning one or more :class:`Result` (OK, WARN or FAIL, with what to do).
Adding a check is adding one function in one of the modules of this package; :data:`REGISTRY` keeps them in
the order they are shown. ``needed`` checks make the overall verdict fail; others only warn.
"""

from __future__ import annotations

from hospfab.doctor.base import REGISTRY, Context, Result, Status, check, run_checks

__all__ = ["REGISTRY", "Context", "Result", "Status", "check", "run_checks"]
