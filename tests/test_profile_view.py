"""The cached profile view answers every attribute the validated model has, with the same values: the
everyday commands (`check`, `gcode check`) read profiles through the content cache, not pydantic."""

from __future__ import annotations

from pathlib import Path

import pytest

from hospfab.profiles.store import ProfileStore, ProfileView

REPO = Path(__file__).resolve().parents[1]


def _public_attributes(model: object) -> list[str]:
    cls = type(model)
    names = set(getattr(cls, "model_fields", {}))
    names |= {n for n in dir(cls) if isinstance(getattr(cls, n, None), property) and not n.startswith("_")}
    return sorted(n for n in names if not n.startswith("model_"))


@pytest.mark.parametrize("kind", ["printer", "material", "process"])
def test_view_matches_the_model_for_every_shipped_profile(kind, tmp_path):
    store = ProfileStore(REPO / "profiles", cache_dir=tmp_path)
    for name in store.names(kind):
        model = store.get(kind, name)
        store.view(kind, name)  # fills the cache
        view = ProfileStore(REPO / "profiles", cache_dir=tmp_path).view(kind, name)
        assert isinstance(view, ProfileView), f"{kind}/{name} was not served from the cache"
        for attr in _public_attributes(model):
            expected, got = getattr(model, attr), getattr(view, attr)
            if isinstance(expected, (list, tuple)):
                expected, got = _plain(expected), _plain(got)
            assert got == expected, f"{kind}/{name}.{attr}: view {got!r} != model {expected!r}"


def _plain(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
