"""What changed between two revisions of a reference: metadata, recipes and files."""

from __future__ import annotations

from typing import Any

from hospfab.catalog import manifest as mf


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def diff_revisions(a, b) -> dict[str, Any]:
    """Differences between revisions ``a`` and ``b`` (``Revision`` objects)."""
    skip = {"rev", "created_at", "recipes", "status"}
    meta_a = _flat(a.meta.model_dump(mode="json", exclude=skip))
    meta_b = _flat(b.meta.model_dump(mode="json", exclude=skip))
    fields = [
        {"field": key, "a": meta_a.get(key), "b": meta_b.get(key)}
        for key in sorted(set(meta_a) | set(meta_b)) if meta_a.get(key) != meta_b.get(key)
    ]
    key = lambda r: (r.printer, r.material, r.process)  # noqa: E731
    rec_a, rec_b = {key(r): r for r in a.recipes}, {key(r): r for r in b.recipes}
    recipes = []
    for k in sorted(set(rec_a) | set(rec_b)):
        ra, rb = rec_a.get(k), rec_b.get(k)
        change = "added" if ra is None else "removed" if rb is None else (
            "changed" if ra.sha256 != rb.sha256 else "same")
        entry = {"printer": k[0], "material": k[1], "process": k[2], "change": change}
        if ra is not None and rb is not None:
            ta, tb = ra.estimates.get("print_time_s"), rb.estimates.get("print_time_s")
            entry.update(print_time_s_a=ta, print_time_s_b=tb)
        recipes.append(entry)
    files_a, files_b = mf.scan(a.path), mf.scan(b.path)
    files = [
        {"file": name, "change": "added" if name not in files_a else "removed" if name not in files_b else "changed"}
        for name in sorted(set(files_a) | set(files_b)) if files_a.get(name) != files_b.get(name)
    ]
    return {
        "a": {"ref": a.ref, "rev": a.rev, "status": a.status},
        "b": {"ref": b.ref, "rev": b.rev, "status": b.status},
        "status": {"a": a.status, "b": b.status},
        "fields": fields, "recipes": recipes, "files": files,
        "same_model": a.meta.model.sha256 == b.meta.model.sha256,
    }
