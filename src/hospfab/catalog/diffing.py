"""What changed between two revisions of a reference: metadata, ``supersedes``, recipes and files.

A recipe present in both revisions (same printer, material and process; or, failing that, the only recipe
for that printer on each side) is compared field by field: material, process, copies, slicer version, layers,
each estimate, and the slicer settings recorded in the G-code's ``; prusaslicer_config`` block, so that a
reviewer reads "fill_density 15% -> 40%", not just "changed".
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hospfab.catalog import manifest as mf

if TYPE_CHECKING:
    from hospfab.catalog.store import Recipe, Revision

RECIPE_FIELDS = ("material", "process", "copies", "slicer", "layers")
CONFIG_BEGIN = b"; prusaslicer_config = begin"
CONFIG_END = b"; prusaslicer_config = end"
TAIL_BYTES = 1 << 20  # the config block is the G-code's last ~40 kB
#: settings shown in the text output of one recipe (all of them are in the JSON)
MAX_SETTINGS_SHOWN = 25


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def slicer_config(gcode: Path) -> dict[str, str] | None:
    """The ``; key = value`` settings between ``; prusaslicer_config = begin`` and ``end`` (None if absent)."""
    try:
        with open(gcode, "rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - TAIL_BYTES))
            tail = handle.read()
            if CONFIG_BEGIN not in tail and size > TAIL_BYTES:
                handle.seek(0)
                tail = handle.read()
    except OSError:
        return None
    start = tail.rfind(CONFIG_BEGIN)
    if start < 0:
        return None
    end = tail.find(CONFIG_END, start)
    block = tail[start + len(CONFIG_BEGIN): end if end >= 0 else len(tail)]
    settings: dict[str, str] = {}
    for raw in block.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if line.startswith(";") and " = " in line:
            key, _, value = line[1:].strip().partition(" = ")
            settings[key.strip()] = value.strip()
    return settings


def _pair(a_recipes: list[Recipe],
          b_recipes: list[Recipe]) -> list[tuple[Recipe | None, Recipe | None]]:
    """Recipes matched across revisions: same (printer, material, process), else the only one per printer."""
    def key(r: Recipe) -> tuple[str, str, str]:
        return (r.printer, r.material, r.process)

    left, right = {key(r): r for r in a_recipes}, {key(r): r for r in b_recipes}
    pairs: list[tuple[Recipe | None, Recipe | None]] = [(left[k], right[k]) for k in left if k in right]
    rest_a = [r for k, r in left.items() if k not in right]
    rest_b = [r for k, r in right.items() if k not in left]
    for ra in list(rest_a):
        same_a = [r for r in rest_a if r.printer == ra.printer]
        same_b = [r for r in rest_b if r.printer == ra.printer]
        if len(same_a) == 1 and len(same_b) == 1:
            pairs.append((ra, same_b[0]))
            rest_a.remove(ra)
            rest_b.remove(same_b[0])
    pairs += [(r, None) for r in rest_a] + [(None, r) for r in rest_b]
    return sorted(pairs, key=lambda p: key(_either(p[0], p[1])))


def _settings_changes(a_file: Path, b_file: Path) -> tuple[list[dict[str, Any]] | None, str | None]:
    ca, cb = slicer_config(a_file), slicer_config(b_file)
    if ca is None or cb is None:
        missing = a_file if ca is None else b_file
        return None, f"{missing.name}: no slicer settings block"
    return [{"setting": k, "a": ca.get(k), "b": cb.get(k)}
            for k in sorted(set(ca) | set(cb)) if ca.get(k) != cb.get(k)], None


def _either(ra: Recipe | None, rb: Recipe | None) -> Recipe:
    r = ra or rb
    assert r is not None, "_pair never pairs two missing recipes"
    return r


def _recipe_entry(ra: Recipe | None, rb: Recipe | None, a: Revision, b: Revision) -> dict[str, Any]:
    r = _either(ra, rb)
    entry: dict[str, Any] = {"printer": r.printer, "material": r.material, "process": r.process}
    if ra is None or rb is None:
        entry["change"] = "added" if ra is None else "removed"
        entry["copies"] = r.copies
        return entry
    changes = [{"field": f, "a": getattr(ra, f), "b": getattr(rb, f)}
               for f in RECIPE_FIELDS if getattr(ra, f) != getattr(rb, f)]
    estimates = [{"estimate": k, "a": ra.estimates.get(k), "b": rb.estimates.get(k)}
                 for k in sorted(set(ra.estimates) | set(rb.estimates))
                 if ra.estimates.get(k) != rb.estimates.get(k)]
    same_file = ra.sha256 == rb.sha256
    settings, note = ([], None) if same_file else _settings_changes(a.path / ra.build_file,
                                                                                 b.path / rb.build_file)
    entry.update(
        change="same" if same_file and not changes else "changed",
        material_b=rb.material, process_b=rb.process,
        build_file_changed=not same_file, fields=changes, estimates=estimates,
        settings=settings, settings_note=note,
        print_time_s_a=ra.estimates.get("print_time_s"), print_time_s_b=rb.estimates.get("print_time_s"),
    )
    return entry


def diff_revisions(a: Revision, b: Revision) -> dict[str, Any]:
    """Differences between revisions ``a`` and ``b`` (``Revision`` objects)."""
    skip = {"rev", "created_at", "recipes", "status", "supersedes"}
    meta_a = _flat(a.meta.model_dump(mode="json", exclude=skip))
    meta_b = _flat(b.meta.model_dump(mode="json", exclude=skip))
    fields = [
        {"field": key, "a": meta_a.get(key), "b": meta_b.get(key)}
        for key in sorted(set(meta_a) | set(meta_b)) if meta_a.get(key) != meta_b.get(key)
    ]
    recipes = [_recipe_entry(ra, rb, a, b) for ra, rb in _pair(list(a.recipes), list(b.recipes))]
    files_a, files_b = mf.scan(a.path), mf.scan(b.path)
    files = [
        {"file": name, "change": "added" if name not in files_a else "removed" if name not in files_b else "changed"}
        for name in sorted(set(files_a) | set(files_b)) if files_a.get(name) != files_b.get(name)
    ]
    return {
        "a": {"ref": a.ref, "rev": a.rev, "status": a.status, "supersedes": a.meta.supersedes},
        "b": {"ref": b.ref, "rev": b.rev, "status": b.status, "supersedes": b.meta.supersedes},
        "status": {"a": a.status, "b": b.status},
        "supersedes": {"a": a.meta.supersedes, "b": b.meta.supersedes},
        "fields": fields, "recipes": recipes, "files": files,
        "same_model": a.meta.model.sha256 == b.meta.model.sha256,
    }


def _short(value: Any, width: int = 30) -> str:
    text = repr(value) if isinstance(value, str) and value == "" else str(value)
    text = text.replace("\\n", " ").replace("\n", " ")
    return text if len(text) <= width else text[: width - 3] + "..."


def diff_lines(data: dict[str, Any]) -> list[str]:
    """The diff for people, one line each (``hospfab catalog diff`` without ``--json``)."""
    a, b = data["a"], data["b"]
    lines = [f"{a['ref']}@{a['rev']} ({a['status']}) -> {b['ref']}@{b['rev']} ({b['status']})"]
    for side in (a, b):
        if side.get("supersedes") is not None:
            lines.append(f"  {side['ref']}@{side['rev']} supersedes {side['ref']}@{side['supersedes']}")
    lines.append(f"  model: {'same' if data['same_model'] else 'changed'}")
    for f in data["fields"]:
        lines.append(f"  {f['field']}: {_short(f['a'])} -> {_short(f['b'])}")
    for r in data["recipes"]:
        name = f"{r['printer']}/{r['material']}/{r['process']}"
        if r["change"] in ("added", "removed"):
            lines.append(f"  recipe {name}: {r['change']} ({r['copies']} per plate)")
            continue
        if r["change"] == "same":
            lines.append(f"  recipe {name}: same build file")
            continue
        lines.append(f"  recipe {name}: changed" + ("" if r["build_file_changed"] else " (same build file)"))
        for f in r["fields"]:
            lines.append(f"    {f['field']}: {_short(f['a'])} -> {_short(f['b'])}")
        for e in r["estimates"]:
            lines.append(f"    estimate {e['estimate']}: {_short(e['a'])} -> {_short(e['b'])}")
        settings = r.get("settings") or []
        for s in settings[:MAX_SETTINGS_SHOWN]:
            lines.append(f"    setting {s['setting']}: {_short(s['a'])} -> {_short(s['b'])}")
        if len(settings) > MAX_SETTINGS_SHOWN:
            lines.append(f"    ... and {len(settings) - MAX_SETTINGS_SHOWN} more settings (--json lists all)")
        if r.get("settings_note"):
            lines.append(f"    settings not compared: {r['settings_note']}")
    for f in data["files"]:
        lines.append(f"  file {f['file']}: {f['change']}")
    return lines
