"""Profiles, the site configuration, the catalog and its signatures."""

from __future__ import annotations

from hospfab.doctor.base import Context, Result, Status, check
from hospfab.errors import HospfabError


@check("config", "site configuration")
def config(context: Context) -> Result:
    s = context.settings
    if s.config_file is None:
        return Result("config", Status.WARN, "no site configuration file",
                      "run `hospfab init` to set this workstation up once")
    site = f" for site {s.site}" if s.site else ""
    return Result("config", Status.OK, f"{s.config_file}{site}")


@check("profiles", "profiles readable and valid")
def profiles(context: Context) -> Result:
    store = context.settings.profile_store()
    try:
        results = store.check_all()
    except HospfabError as err:
        return Result("profiles", Status.FAIL, err.message, "reinstall hospfab, or fix --profiles/HOSPFAB_PROFILES")
    bad = [r for r in results if not r.ok]
    if not results:
        return Result("profiles", Status.FAIL, f"no profiles in {store.root}", "reinstall hospfab")
    if bad:
        return Result("profiles", Status.FAIL, f"{len(bad)} of {len(results)} profiles invalid: {bad[0].error}",
                      "run `hospfab profiles check` and fix the files it names")
    where = " + ".join(str(r) for r in store.roots)
    context.facts["profile_store"] = store
    return Result("profiles", Status.OK, f"{len(results)} profiles valid ({where})")


@check("catalog", "catalog found and verified")
def catalog(context: Context) -> list[Result]:
    from hospfab.catalog import Catalog

    try:
        root = context.settings.catalog_dir
        cat = Catalog(root)
        outcomes = cat.verify()
    except HospfabError as err:
        return [Result("catalog", Status.FAIL, err.message,
                       "run `hospfab init --catalog FOLDER_OR_GIT_URL`, or check the folder's permissions")]
    failed = [o for o in outcomes if not o["ok"] and o.get("status") != "draft"]
    results = []
    if failed:
        first = failed[0]
        results.append(Result("catalog", Status.FAIL,
                              f"{len(failed)} revision(s) fail verification: {first.get('error')}",
                              "run `hospfab catalog verify` and restore the files from the catalog repository"))
    elif not outcomes:
        results.append(Result("catalog", Status.WARN, f"{root}: no validated revision", "validate references"))
    else:
        results.append(Result("catalog", Status.OK, f"{root}: {len(outcomes)} revision(s) verified"))
    results.extend(trust(context, cat))
    return results


def trust(context: Context, cat) -> list[Result]:
    """Where signatures are checked against. Extend here when a separate trust store is configured."""
    store = getattr(context.settings, "trust_store_path", None)
    if store is not None and not store.is_dir():
        return [Result("trust", Status.FAIL, f"{store}: trust store not found",
                       "fix `trust_store:` in the site configuration or HOSPFAB_TRUST_STORE")]
    keys_dir = store or getattr(cat, "keys_dir", cat.root / "keys")
    keys = sorted(keys_dir.glob("*.pub")) if keys_dir.is_dir() else []
    if not keys:
        return [Result("trust", Status.FAIL, f"{keys_dir}: no trusted validator key",
                       "add the validators' public keys (`hospfab keys list`)")]
    return [Result("trust", Status.OK, f"{len(keys)} trusted key(s) in {keys_dir}")]
