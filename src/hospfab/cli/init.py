"""`hospfab init`: write this workstation's site configuration, cloning the catalog repository if asked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hospfab.cli.options import JsonOpt
from hospfab.cli.output import CommandResult, emit



def init(
    catalog: Annotated[str | None, typer.Option(
        "--catalog", help="Catalog folder, or the git URL of the hospital's catalog repository to clone.",
        show_default=False)] = None,
    clone_to: Annotated[Path | None, typer.Option(
        "--clone-to", help="Where to clone a catalog repository (default: <data dir>/catalog).",
        show_default=False)] = None,
    site: Annotated[str | None, typer.Option("--site", help="Name of this site.", show_default=False)] = None,
    database: Annotated[str | None, typer.Option(
        "--database", help="Journal database URL (default: SQLite in the data directory).",
        show_default=False)] = None,
    fleet: Annotated[Path | None, typer.Option("--fleet", help="Fleet file.", show_default=False)] = None,
    site_profiles: Annotated[Path | None, typer.Option(
        "--site-profiles", help="Folder of site profiles extending the shipped ones.", show_default=False)] = None,
    trust_store: Annotated[Path | None, typer.Option(
        "--trust-store", help="The site's trust store file (pinned validators' keys, approval policy).",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing configuration file.")] = False,
    interactive: Annotated[bool, typer.Option(
        "--interactive", "-i", help="Ask for each value (the default on a terminal without options).")] = False,
    json_: JsonOpt = False,
) -> None:
    """Set this workstation up once: write the site configuration (catalog, fleet, database, site...).

    With no option on a terminal, asks for each value. A git URL as --catalog is cloned (`git clone`);
    a folder is used where it is. Writes `$HOSPFAB_CONFIG` or `config.yaml` in the user config directory
    (mode 0600: a database URL may hold a password). Then run `hospfab doctor`.

    Example: hospfab init --catalog https://git.example-hospital.org/biomed/catalog.git --site icu
    """
    import sys

    given = [catalog, site, database, fleet, site_profiles, trust_store]
    if interactive or (all(v is None for v in given) and sys.stdin.isatty() and not json_):
        def ask(question: str, current: object) -> str | None:
            answer = typer.prompt(question, default="" if current is None else str(current), show_default=False)
            return answer.strip() or None

        catalog = ask("Catalog folder or git URL of the catalog repository", catalog)
        site = ask("Site name (empty: none)", site)
        database = ask("Journal database URL (empty: SQLite on this workstation)", database)
        fleet_text = ask("Fleet file (empty: fleet.yaml in the config directory)", fleet)
        fleet = Path(fleet_text) if fleet_text else None
        profiles_text = ask("Site profiles folder (empty: none)", site_profiles)
        site_profiles = Path(profiles_text) if profiles_text else None

    def work() -> CommandResult:
        from hospfab import config
        from hospfab.errors import ConfigError, InputError
        from hospfab.fileio import atomic_write_text
        from hospfab.settings import make_private_dir, mask_secrets

        path = config.target_path()
        if path.exists() and not force:
            raise InputError(f"{path}: a site configuration already exists (use --force to replace it, "
                             "`hospfab config show` to see it)", code="exists")
        values: dict[str, object] = {"site": site, "database": database}
        for key, value in (("fleet", fleet), ("site_profiles", site_profiles), ("trust_store", trust_store)):
            if value is not None:
                values[key] = str(value.expanduser().resolve())
        cloned = None
        if catalog is not None:
            if config.is_git_url(catalog):
                dest = (clone_to or config.home_dirs()[1] / "catalog").expanduser().resolve()
                cloned = _clone(catalog, dest)
                values["catalog"], values["catalog_repository"] = str(dest), catalog
            else:
                folder = Path(catalog).expanduser().resolve()
                if not folder.is_dir():
                    raise ConfigError(f"{folder}: catalog folder not found (give a folder or a git URL)",
                                      code="not_found")
                values["catalog"] = str(folder)
        values = {k: v for k, v in values.items() if v is not None}
        config.check_values(values, path)
        make_private_dir(path.parent)
        atomic_write_text(path, config.render_yaml(values), mode=0o600)
        shown = mask_secrets(values)
        data = {"config_file": str(path), "values": shown, "cloned": cloned}

        def render(console) -> None:
            console.print(f"Wrote {path}", markup=False)
            for key, value in shown.items():
                console.print(f"  {key}: {value}", markup=False)
            if "catalog" not in values:
                console.print("No catalog set: add one with `hospfab init --force --catalog ...`", markup=False)
            console.print("Next: hospfab doctor", markup=False)

        return CommandResult(data=data, render=render)

    emit("init", json_, work)


def _clone(url: str, dest: Path) -> dict:
    """``git clone url dest``; an existing clone of the same repository is reused as it is."""
    import shutil
    import subprocess

    from hospfab.errors import InputError
    from hospfab.settings import mask_secrets

    shown = mask_secrets(url)
    git = shutil.which("git")
    if git is None:
        raise InputError(f"git not found: install git to clone {shown}, or clone it yourself and give the folder")
    if (dest / ".git").exists():
        origin = subprocess.run([git, "-C", str(dest), "remote", "get-url", "origin"], capture_output=True,
                                text=True, check=False).stdout.strip()
        if origin != url:
            raise InputError(f"{dest}: already a clone of another repository ({mask_secrets(origin)}); "
                             "choose another --clone-to")
        return {"url": shown, "folder": str(dest), "reused": True}
    if dest.exists() and any(dest.iterdir()):
        raise InputError(f"{dest}: folder exists and is not empty; choose another --clone-to")
    dest.parent.mkdir(parents=True, exist_ok=True)
    out = subprocess.run([git, "clone", "--quiet", url, str(dest)], capture_output=True, text=True, check=False,
                         env={**__import__("os").environ, "GIT_TERMINAL_PROMPT": "0"})
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no message"])[-1].replace(url, shown)
        raise InputError(f"git clone {shown} failed: {last}", code="clone_failed")
    return {"url": shown, "folder": str(dest), "reused": False}


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("init")(init)
