"""`hospfab keys ...`: validator key pairs (Ed25519) and the site's trust store (who may sign, with which role)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hospfab.cli.options import JsonOpt, settings
from hospfab.cli.output import CommandResult, emit

keys_app = typer.Typer(help="Validator keys and the site's trust store: new, trust, list, revoke, policy.",
                       no_args_is_help=True)

PASSPHRASE_ENV = "HOSPFAB_KEY_PASSPHRASE"


def passphrase_source(key_file: Path):
    """A callable giving the passphrase of ``key_file`` when it is encrypted: $HOSPFAB_KEY_PASSPHRASE, else a
    hidden prompt on stderr."""

    def ask() -> str:
        import os

        value = os.environ.get(PASSPHRASE_ENV)
        if value:
            return value
        return _prompt(f"Passphrase for {key_file}", confirm=False)

    return ask


def _prompt(text: str, *, confirm: bool) -> str:
    from hospfab.errors import InputError

    try:
        return typer.prompt(text, hide_input=True, confirmation_prompt=confirm, err=True)
    except (typer.Abort, EOFError):
        raise InputError(f"no passphrase given ({text.lower()}): type it at the prompt or set "
                         f"{PASSPHRASE_ENV}") from None


def _new_passphrase() -> str:
    import os

    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    return _prompt("Passphrase for the new private key (8 characters or more)", confirm=True)


def _store(ctx: typer.Context):
    from hospfab.trust import TrustStore

    return TrustStore.load(settings(ctx).trust_store_path)


def _entry_dict(entry, now) -> dict:
    data = entry.model_dump(mode="json", exclude={"public_key"})
    data["state"] = entry.state(now)
    return data


@keys_app.command("new")
def new_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Key name, e.g. the validator's login.", show_default=False)],
    out_dir: Annotated[Path | None, typer.Option("--dir", help="Where to write NAME.key and NAME.pub "
                                                 "(default: <config>/keys; never inside the catalog).",
                                                 show_default=False)] = None,
    no_passphrase: Annotated[bool, typer.Option("--no-passphrase", help="Leave the private key unencrypted "
                                                "(automation only; protect the file).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Make an Ed25519 key pair: private key 0600, passphrase-encrypted (prompt or $HOSPFAB_KEY_PASSPHRASE).

    The public key is not trusted until a site administrator pins it with `hospfab keys trust`.

    Example: hospfab keys new jmartin
    """

    def work() -> CommandResult:
        from hospfab.catalog.signing import generate_key_pair

        s = settings(ctx)
        folder = out_dir or s.config_dir / "keys"
        passphrase = None if no_passphrase else _new_passphrase()
        private, public, key_id = generate_key_pair(name, folder, catalog_root=s.catalog_dir, passphrase=passphrase)
        data = {"name": name, "key_id": key_id, "private_key": str(private), "public_key": str(public),
                "encrypted": passphrase is not None}

        def render(console) -> None:
            console.print(f"key {name} ({key_id})", markup=False)
            lock = "encrypted" if passphrase is not None else "NOT encrypted"
            console.print(f"  private: {private}  (mode 0600, {lock}: keep it secret, never commit it)", markup=False)
            console.print(f"  public:  {public}", markup=False)
            console.print(f"  to trust it at a site: hospfab keys trust {public} --name 'FULL NAME' --role ROLE",
                          markup=False)

        return CommandResult(data=data, render=render)

    emit("keys new", as_json, work)


@keys_app.command("trust")
def trust_command(
    ctx: typer.Context,
    pubkey: Annotated[Path, typer.Argument(help="The validator's public key file (PEM, NAME.pub).",
                                           show_default=False)],
    name: Annotated[str, typer.Option("--name", help="The person's full name, shown on every signature.",
                                      show_default=False)],
    role: Annotated[list[str], typer.Option("--role", help="A role (repeat for several), e.g. "
                                            "'biomedical engineer', 'quality manager'.", show_default=False)],
    expires: Annotated[str | None, typer.Option("--expires", help="Expiry date, YYYY-MM-DD (UTC).",
                                                show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Pin a validator's public key in this site's trust store, bound to a name and role(s).

    Example: hospfab keys trust jmartin.pub --name "J. Martin" --role "biomedical engineer" --expires 2028-01-01
    """

    def work() -> CommandResult:
        from datetime import datetime, timezone

        from hospfab.errors import InputError
        from hospfab.trust.store import now_utc

        when = None
        if expires is not None:
            try:
                when = datetime.strptime(expires, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            except ValueError:
                raise InputError(f"--expires {expires!r}: expected a date YYYY-MM-DD") from None
        store = _store(ctx)
        entry = store.trust(pubkey, name=name, roles=role, expires=when)
        path = store.save()
        data = {"trust_store": str(path), "key": _entry_dict(entry, now_utc())}
        return CommandResult(data=data, render=lambda c: c.print(
            f"trusted {entry.key_id}: {entry.name} ({', '.join(entry.roles)}) in {path}", markup=False))

    emit("keys trust", as_json, work)


@keys_app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the keys this site trusts (name, roles, expiry, revocation), the approval policy, and public keys the
    catalog ships that are NOT trusted until pinned.

    Example: hospfab keys list --json
    """

    def work() -> CommandResult:
        from hospfab.catalog.signing import shipped_keys
        from hospfab.trust.store import now_utc

        store = _store(ctx)
        now = now_utc()
        keys = [_entry_dict(e, now) for e in store.entries]
        pinned = {k["key_id"] for k in keys}
        shipped = [{"name": k.name, "key_id": k.key_id, "path": str(k.path), "trusted": k.key_id in pinned}
                   for k in shipped_keys(settings(ctx).catalog_dir / "keys").values()]
        data = {"trust_store": str(store.path), "policy": store.policy.model_dump(), "keys": keys,
                "catalog_keys": shipped}

        def render(console) -> None:
            console.print(f"trust store {store.path}; policy: {store.policy.describe()}", markup=False)
            for k in keys:
                until = f", expires {k['expires'][:10]}" if k.get("expires") else ""
                console.print(f"  {k['key_id']}  {k['state']:8} {k['name']} ({', '.join(k['roles'])}){until}",
                              markup=False)
            if not keys:
                console.print("  no trusted keys: pin one with `hospfab keys trust PUBKEY --name --role`",
                              markup=False)
            for k in shipped:
                if not k["trusted"]:
                    console.print(f"  catalog ships {k['path']} ({k['key_id']}): NOT trusted until pinned",
                                  markup=False)

        return CommandResult(data=data, render=render)

    emit("keys list", as_json, work)


@keys_app.command("revoke")
def revoke_command(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="Fingerprint of the key (see `hospfab keys list`).",
                                          show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="Why (lost, left, compromised).", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key: none of its signatures counts any more (its revisions become unprintable until re-signed).

    Example: hospfab keys revoke 791c3eb6f2a1b041 --reason "laptop stolen"
    """

    def work() -> CommandResult:
        from hospfab.trust.store import now_utc

        store = _store(ctx)
        entry = store.revoke(key_id, reason=reason)
        store.save()
        return CommandResult(data={"key": _entry_dict(entry, now_utc())}, render=lambda c: c.print(
            f"revoked {entry.key_id} ({entry.name}): {entry.revoked_reason}", markup=False))

    emit("keys revoke", as_json, work)


@keys_app.command("policy")
def policy_command(
    ctx: typer.Context,
    signatures: Annotated[int | None, typer.Option("--signatures", help="Distinct signers a revision needs.",
                                                   show_default=False)] = None,
    role: Annotated[list[str] | None, typer.Option("--role", help="A role that must be among the signers "
                                                   "(repeat; each held by a different signer).",
                                                   show_default=False)] = None,
    no_roles: Annotated[bool, typer.Option("--no-roles", help="Require no particular role.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show or set the site's approval policy (default: one trusted signer). Fewer signatures: `pending`.

    Example: hospfab keys policy --signatures 2 --role "biomedical engineer" --role "quality manager"
    """

    def work() -> CommandResult:
        store = _store(ctx)
        if signatures is not None or role or no_roles:
            store.set_policy(signatures=signatures, roles=[] if no_roles else role)
            store.save()
        policy = store.policy
        return CommandResult(data={"trust_store": str(store.path), "policy": policy.model_dump()},
                             render=lambda c: c.print(f"policy: {policy.describe()} ({store.path})", markup=False))

    emit("keys policy", as_json, work)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(keys_app, name="keys")
