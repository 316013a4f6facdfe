"""`hospfab keys ...`: validator key pairs (Ed25519) and the catalog's trusted keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hospfab.cli.options import JsonOpt, settings
from hospfab.cli.output import CommandResult, emit

keys_app = typer.Typer(help="Validator signing keys: make a key pair, list trusted keys.", no_args_is_help=True)


@keys_app.command("new")
def new_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Key name, e.g. the validator's login.", show_default=False)],
    out_dir: Annotated[Path | None, typer.Option("--dir", help="Where to write the key pair "
                                                 "(default: <config>/keys; never inside the catalog).",
                                                 show_default=False)] = None,
    trust: Annotated[bool, typer.Option("--trust", help="Also copy the public key into the catalog's keys/.")]
    = False,
    as_json: JsonOpt = False,
) -> None:
    """Make an Ed25519 key pair: private key 0600 outside the catalog, public key beside it.

    Example: hospfab keys new jmartin --trust
    """

    def work() -> CommandResult:
        import shutil

        from hospfab.catalog.signing import generate_key_pair

        s = settings(ctx)
        folder = out_dir or s.config_dir / "keys"
        private, public, key_id = generate_key_pair(name, folder, catalog_root=s.catalog_dir)
        trusted = None
        if trust:
            from hospfab.errors import InputError

            target = s.catalog_dir / "keys" / f"{name}.pub"
            if target.exists():
                raise InputError(f"{target}: a trusted key with this name already exists")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(public, target)
            trusted = str(target)
        data = {"name": name, "key_id": key_id, "private_key": str(private), "public_key": str(public),
                "trusted_as": trusted}

        def render(console) -> None:
            console.print(f"key {name} ({key_id})", markup=False)
            console.print(f"  private: {private}  (mode 0600: keep it secret, never commit it)", markup=False)
            console.print(f"  public:  {public}", markup=False)
            if trusted:
                console.print(f"  trusted: {trusted} (commit it so reviewers see who may validate)", markup=False)
            else:
                console.print(f"  to trust it, copy the public key to {s.catalog_dir / 'keys'}/", markup=False)

        return CommandResult(data=data, render=render)

    emit("keys new", as_json, work)


@keys_app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the public keys trusted by the catalog (catalog/keys/*.pub).

    Example: hospfab keys list --json
    """

    def work() -> CommandResult:
        from hospfab.catalog.signing import trusted_keys

        keys = [{"name": k.name, "key_id": k.key_id, "path": str(k.path)}
                for k in trusted_keys(settings(ctx).catalog_dir / "keys").values()]

        def render(console) -> None:
            for k in keys:
                console.print(f"{k['name']}  {k['key_id']}  {k['path']}", markup=False)
            if not keys:
                console.print("no trusted keys", markup=False)

        return CommandResult(data={"keys": keys}, render=render)

    emit("keys list", as_json, work)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(keys_app, name="keys")
