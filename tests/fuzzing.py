"""Helpers for the fuzz tests (tests/test_fuzz_*.py): how long to fuzz, and how to run a fuzzer for that long.

In the normal test run each fuzzer runs a CI-sized slice (``FUZZ_EXAMPLES`` examples, a few seconds).
``make fuzz`` sets ``FUZZ_SECONDS`` (default 300, shared between the fuzzers): each fuzzer then runs fresh
random batches until its share of the time is spent. A failing input is printed by hypothesis; add it to the
fuzzer's ``REGRESSIONS`` list so it is replayed in every run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from hypothesis import HealthCheck, settings

FUZZERS = 3  # STL reader, G-code tokenizer, YAML loaders: FUZZ_SECONDS is shared between them
SLICE_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))


def fuzz_settings(examples: int | None = None) -> settings:
    return settings(max_examples=examples or SLICE_EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def run_for_budget(fuzzer: Callable[[], None]) -> int:
    """Run the hypothesis test ``fuzzer`` once (the CI slice), or repeatedly for this fuzzer's share of
    ``FUZZ_SECONDS``; returns the number of batches run."""
    budget = float(os.environ.get("FUZZ_SECONDS", "0")) / FUZZERS
    deadline = time.monotonic() + budget
    batches = 0
    while True:
        fuzzer()
        batches += 1
        if time.monotonic() >= deadline:
            return batches
