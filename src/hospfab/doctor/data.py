"""Profiles, the site configuration, the catalog and its signatures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hospfab.doctor.base import Context, Result, Status, check
from hospfab.errors import HospfabError

if TYPE_CHECKING:
    from hospfab.catalog import Catalog


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
        cat = Catalog(root, trust=context.settings.trust_store_path, seen=context.settings.journal_path)
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


def trust(context: Context, cat: Catalog) -> list[Result]:
    """The site's trust store (pinned validator keys, never the catalog's own ``keys/``) and its policy."""
    from hospfab.trust import TrustStore
    from hospfab.trust.store import now_utc

    path = context.settings.trust_store_path
    try:
        store = TrustStore.load(path)
    except HospfabError as err:
        return [Result("trust", Status.FAIL, err.message, "fix the trust store file (`hospfab keys list`)")]
    now = now_utc()
    trusted = [e for e in store.entries if e.state(now) == "trusted"]
    if not trusted:
        return [Result("trust", Status.FAIL, f"{path}: no trusted validator key",
                       "pin the validators' public keys: `hospfab keys trust KEY.pub --name NAME --role ROLE`")]
    return [Result("trust", Status.OK, f"{len(trusted)} trusted key(s) in {path}; policy: "
                   f"{store.policy.describe()}")]
