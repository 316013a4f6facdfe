"""`hospfab catalog ...`: the versioned, signed catalog of validated part references."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hospfab.cli.options import JsonOpt, settings
from hospfab.cli.output import CommandResult, emit, plain

catalog_app = typer.Typer(
    help="The versioned, signed catalog of validated references (list, show, new, build, validate, verify).",
    no_args_is_help=True,
)

SpecArg = Annotated[str, typer.Argument(help="Reference and revision, REF@REV (e.g. EAR-SAVER@1).",
                                        show_default=False)]


def _catalog(ctx: typer.Context):
    from hospfab.catalog.checks import RealChecks

    s = settings(ctx)
    return s.catalog(checks=RealChecks(s.profiles_dir, store=s.profile_store()))


def _duration(seconds) -> str:
    if not seconds:
        return "?"
    h, rest = divmod(int(seconds), 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


def _load_meta(path: Path | None) -> dict | None:
    if path is None:
        return None
    from hospfab.fileio import read_yaml_mapping

    return read_yaml_mapping(path, what="metadata file")


def _revision_lines(console, revision) -> None:
    console.print(f"[bold]{revision.spec}[/] {revision.status}  created {revision.meta.created_at:%Y-%m-%d}",
                  markup=True)
    if revision.meta.changelog:
        console.print(f"  changelog: {revision.meta.changelog}", markup=False)
    console.print(f"  model: {revision.model_file}  (mesh check {'ok' if revision.meta.model.mesh_ok else 'FAILED'})",
                  markup=False)
    if revision.preview:
        console.print(f"  preview: {revision.preview}", markup=False)
    for r in revision.recipes:
        est = r.estimates
        console.print(f"  recipe {r.printer} / {r.material} / {r.process}: {r.copies} per plate, "
                      f"{_duration(est.get('print_time_s'))}, {est.get('filament_g') or 0:g} g -> "
                      f"{r.build_file.name}", markup=False)
    if revision.legacy is not None:
        console.print(f"  OLD FORMAT: signed as {revision.legacy.by} with a key trusted from the catalog; "
                      f"re-sign with `hospfab catalog resign {revision.spec} --key KEY`", markup=False)
    for sig in revision.signatures:
        console.print(f"  {sig.meaning} by {sig.signer} ({', '.join(sig.roles)}) on {sig.at:%Y-%m-%d}, "
                      f"key {sig.key_id}", markup=False)
    if revision.pending:
        console.print(f"  pending: needs {'; '.join(revision.pending)}", markup=False)
    if revision.retirement:
        by = getattr(revision.retirement, "signer", "") or getattr(revision.retirement, "by", "")
        console.print(f"  retired {revision.retirement.at:%Y-%m-%d}{' by ' + by if by else ''}: "
                      f"{revision.retirement.reason}", markup=False)


@catalog_app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List references: title, latest validated revision, status, printers and materials.

    Example: hospfab catalog list --json
    """

    def work() -> CommandResult:
        parts = [p.summary() for p in _catalog(ctx).list()]

        def render(console) -> None:
            from rich.table import Table

            from rich import box

            table = Table(box=box.SIMPLE, pad_edge=False)
            for column in ("ref", "rev", "status", "printers", "materials"):  # never cut an id or a name
                table.add_column(column, no_wrap=True)
            table.add_column("title", ratio=1, overflow="fold")
            for p in parts:
                table.add_row(plain(p["ref"]), str(p["latest_validated"] or "-"), plain(p["status"]),
                              plain("\n".join(p["printers"])), plain("\n".join(p["materials"])), plain(p["title"]))
            console.print(table)

        return CommandResult(data={"parts": parts}, render=render)

    emit("catalog list", as_json, work)


@catalog_app.command("show")
def show_command(
    ctx: typer.Context,
    spec: Annotated[str, typer.Argument(help="REF (latest validated revision) or REF@REV.", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Show a reference and one revision: metadata, recipes, validation, preview path.

    Example: hospfab catalog show VISOR-HEADBAND@1
    """

    def work() -> CommandResult:
        cat = _catalog(ctx)
        ref, rev = cat.parse_spec(spec)  # a misspelt reference names the closest ones
        part = cat.get(ref)
        revision = cat.resolve(spec) if rev is not None or part.latest_validated else part.latest
        data = {"part": part.meta.model_dump(mode="json"), "revision": revision.to_dict() if revision else None,
                "revisions": part.summary()["revisions"]}

        def render(console) -> None:
            m = part.meta
            console.print(f"[bold]{plain(m.ref)}[/] {plain(m.title)}  {plain(f'[{m.category}]')}", markup=True)
            for label, value in (("intended use", m.intended_use), ("users", ", ".join(m.intended_users)),
                                 ("limitations", "; ".join(m.limitations)),
                                 ("contraindications", "; ".join(m.contraindications)),
                                 ("replaces", f"{m.replaces.equipment} {m.replaces.oem_part_number or ''}"
                                  if m.replaces else ""), ("licence", m.licence)):
                if value:
                    console.print(f"  {label}: {value}", markup=False)
            if revision is not None:
                _revision_lines(console, revision)

        return CommandResult(data=data, render=render)

    emit("catalog show", as_json, work)


@catalog_app.command("new")
def new_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="New reference id (upper-case, digits, hyphens).", show_default=False)],
    title: Annotated[str, typer.Option("--title", help="Short title.", show_default=False)],
    model: Annotated[Path, typer.Option("--model", help="STL model in mm.", show_default=False)],
    meta: Annotated[Path | None, typer.Option("--meta", help="YAML with part metadata and instructions "
                                              "(keys listed below).", show_default=False)] = None,
    source: Annotated[Path | None, typer.Option("--source", help="Parametric source kept in the revision.",
                                                show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a reference with draft revision 1 (runs the mesh check and renders a preview).

    --meta keys for part.yaml: category; intended_use; intended_users (list); limitations (list);
    contraindications (list); replaces {equipment, oem_part_number, manufacturer}; source; licence.
    --meta keys for the revision: post_processing (list); cleaning; acceptance {surface_tolerance_mm,
    dimensions [{name, nominal_mm, tolerance_mm}], fit_test, visual}; sampling {lot_size, sample_size, method}.
    Validation needs intended_use, intended_users, licence, acceptance (a surface tolerance or a dimension)
    and sampling.

    Example: hospfab catalog new EAR-SAVER --title "Ear saver" --model ear-saver.stl --meta ear-saver.yaml
    """

    def work() -> CommandResult:
        revision = _catalog(ctx).new(ref, title, model, meta=_load_meta(meta), source=source, model_script=source)
        return CommandResult(data=revision.to_dict(), render=lambda c: _revision_lines(c, revision))

    emit("catalog new", as_json, work)


@catalog_app.command("revise")
def revise_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Reference to revise.", show_default=False)],
    changelog: Annotated[str, typer.Option("--changelog", help="What changes and why.", show_default=False)],
    model: Annotated[Path | None, typer.Option("--model", help="New STL (default: the latest one again).",
                                               show_default=False)] = None,
    meta: Annotated[Path | None, typer.Option("--meta", help="YAML overriding instructions (cleaning, ...).",
                                              show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a new draft revision (validated revisions never change); recipes must be built again.

    Example: hospfab catalog revise EAR-SAVER --model ear-saver-v2.stl --changelog "Wider hooks"
    """

    def work() -> CommandResult:
        revision = _catalog(ctx).revise(ref, changelog, model, meta=_load_meta(meta))
        return CommandResult(data=revision.to_dict(), render=lambda c: _revision_lines(c, revision))

    emit("catalog revise", as_json, work)


@catalog_app.command("build")
def build_command(
    ctx: typer.Context,
    spec: SpecArg,
    printer: Annotated[str, typer.Option("--printer", "-p", help="Printer profile.", show_default=False)],
    material: Annotated[str, typer.Option("--material", "-m", help="Material profile.", show_default=False)],
    process: Annotated[str, typer.Option("--process", help="Process profile.")] = "standard",
    copies: Annotated[int, typer.Option("--copies", "-n", help="Copies per plate.")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Slice a draft revision for a printer + material + process and record the recipe.

    Example: hospfab catalog build EAR-SAVER@2 --printer prusa-mk4 --material petg --process draft --copies 8
    """

    def work() -> CommandResult:
        revision = _catalog(ctx).build(spec, printer, material, process, copies=copies)
        recipe = next(r for r in revision.recipes
                      if (r.printer, r.material, r.process) == (printer, material, process))
        return CommandResult(data={"ref": revision.ref, "rev": revision.rev, "recipe": recipe.to_dict()},
                             render=lambda c: _revision_lines(c, revision))

    emit("catalog build", as_json, work)


KeyOpt = Annotated[Path, typer.Option("--key", help="Your private key (outside the catalog), pinned in the "
                                      "site's trust store; passphrase from a prompt or $HOSPFAB_KEY_PASSPHRASE.",
                                      show_default=False)]


@catalog_app.command("validate")
def validate_command(
    ctx: typer.Context,
    spec: SpecArg,
    key: KeyOpt,
    inspection: Annotated[str, typer.Option("--inspection", help="Inspection result.")] = "",
    test_print: Annotated[str, typer.Option("--test-print", help="Which test print was inspected.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Gate (mesh, recipes, G-code, metadata), lock with a manifest and sign a draft revision.

    Your name and role come from the site's trust store entry of your key. The gate lists every reason
    it refuses (test-only printer profiles, empty intended use/users/licence/acceptance/sampling, ...).

    Example: hospfab catalog validate EAR-SAVER@2 --key ~/.config/hospfab/keys/jmartin.key --inspection "fit OK"
    """

    def work() -> CommandResult:
        from hospfab.cli.keys import passphrase_source

        revision = _catalog(ctx).validate(spec, key_file=key, passphrase=passphrase_source(key),
                                          inspection=inspection, test_print=test_print)
        return CommandResult(data=revision.to_dict(), render=lambda c: _revision_lines(c, revision))

    emit("catalog validate", as_json, work)


@catalog_app.command("sign")
def sign_command(
    ctx: typer.Context,
    spec: SpecArg,
    key: KeyOpt,
    comment: Annotated[str, typer.Option("--comment", help="What you checked.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Co-sign (approve) a validated or pending revision: a second pair of eyes for the site's policy.

    Example: hospfab catalog sign EAR-SAVER@2 --key ~/.config/hospfab/keys/qa-lead.key
    """

    def work() -> CommandResult:
        from hospfab.cli.keys import passphrase_source

        revision = _catalog(ctx).sign(spec, key_file=key, passphrase=passphrase_source(key), comment=comment)
        return CommandResult(data=revision.to_dict(), render=lambda c: _revision_lines(c, revision))

    emit("catalog sign", as_json, work)


@catalog_app.command("retire")
def retire_command(
    ctx: typer.Context,
    spec: SpecArg,
    reason: Annotated[str, typer.Option("--reason", help="Why it must no longer be printed.", show_default=False)],
    key: KeyOpt,
    as_json: JsonOpt = False,
) -> None:
    """Retire a revision (a signed event): it stays in the catalog but can no longer be printed.

    Example: hospfab catalog retire EAR-SAVER@1 --reason "Superseded by rev 2" --key ~/.config/hospfab/keys/jmartin.key
    """

    def work() -> CommandResult:
        from hospfab.cli.keys import passphrase_source

        revision = _catalog(ctx).retire(spec, reason, key_file=key, passphrase=passphrase_source(key))
        return CommandResult(data=revision.to_dict(), render=lambda c: _revision_lines(c, revision))

    emit("catalog retire", as_json, work)


@catalog_app.command("resign")
def resign_command(
    ctx: typer.Context,
    key: KeyOpt,
    specs: Annotated[list[str] | None, typer.Argument(help="REF or REF@REV (default: every old-format revision).",
                                                      show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Migrate revisions signed in the old format: check they are unchanged, gate them, re-sign them.

    Example: hospfab catalog resign --key ~/.config/hospfab/keys/jmartin.key
    """

    def work() -> CommandResult:
        from hospfab.cli.keys import passphrase_source

        done = _catalog(ctx).resign(specs or None, key_file=key, passphrase=passphrase_source(key))

        def render(console) -> None:
            for revision in done:
                console.print(f"re-signed {revision.spec} ({revision.status})", markup=False)
            if not done:
                console.print("no revision in the old format", markup=False)

        return CommandResult(data={"revisions": [r.spec for r in done]}, render=render)

    emit("catalog resign", as_json, work)


@catalog_app.command("verify")
def verify_command(
    ctx: typer.Context,
    ref: Annotated[str | None, typer.Argument(help="Only this reference (default: all).", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify files, part metadata, signatures (site trust store) and the signed index (exit 4 on any failure).

    Example: hospfab catalog verify VISOR-HEADBAND
    """

    def work() -> CommandResult:
        from hospfab.errors import ExitCode

        outcomes = _catalog(ctx).verify(ref)
        failed = [o for o in outcomes if not o["ok"]]
        errors = [{"code": o["code"], "message": o["error"]} for o in failed]
        exit_code = max((o["exit_code"] for o in failed), default=ExitCode.OK)
        if any(o["exit_code"] == ExitCode.SAFETY for o in failed):
            exit_code = ExitCode.SAFETY
        verified = sum(1 for o in outcomes if o["ok"] and "skipped" not in o)

        def render(console) -> None:
            for o in outcomes:
                mark = "[red]FAIL[/]" if not o["ok"] else "[dim]skip[/]" if "skipped" in o else "[green]ok[/]"
                extra = f"signed by {o['signed_by']}" if o.get("signed_by") else o.get("skipped", "")
                if o.get("pending"):
                    extra += f"; pending: needs {'; '.join(o['pending'])}"
                label = o["ref"] if o["rev"] is None else f"{o['ref']}@{o['rev']}"
                console.print(f"{mark} {label} {o['status']} ", markup=True, end="")
                console.print(extra, markup=False)
            console.print(f"{verified} revision(s) verified, {len(failed)} failed", markup=False)

        return CommandResult(data={"revisions": outcomes, "verified": verified, "failed": len(failed)},
                             exit_code=exit_code, errors=errors, render=render)

    emit("catalog verify", as_json, work)


@catalog_app.command("diff")
def diff_command(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="First revision, REF@A.", show_default=False)],
    b: Annotated[str, typer.Argument(help="Second revision, REF@B.", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Show what changed between two revisions: metadata, supersedes, each recipe (printer, material,
    copies, slicer settings, estimates) and files.

    Example: hospfab catalog diff EAR-SAVER@1 EAR-SAVER@2
    """

    def work() -> CommandResult:
        data = _catalog(ctx).diff(a, b)

        def render(console) -> None:
            from hospfab.catalog.diffing import diff_lines

            for line in diff_lines(data):
                console.print(line, markup=False, highlight=False)

        return CommandResult(data=data, render=render)

    emit("catalog diff", as_json, work)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(catalog_app, name="catalog")
