"""Folders hospfab creates in its home are 0700 whatever the umask: a world-writable home, cache or trust
folder lets another local user swap the site trust store, a validator key folder or a cached (trusted)
validation result of the site configuration."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

RUN = """
import os, sys
os.umask(0)
from hospfab.cli import app
for argv in {commands!r}:
    sys.argv = ["hospfab", *argv]
    try:
        app()
    except SystemExit as done:
        if done.code:
            print("FAILED", argv, done.code)
"""


def run_with_umask_0(home: Path, commands: list[list[str]]) -> None:
    env = dict(os.environ, HOSPFAB_HOME=str(home), HOSPFAB_KEY_PASSPHRASE="correct horse battery")
    for var in ("HOSPFAB_FLEET", "HOSPFAB_CATALOG", "HOSPFAB_CONFIG", "HOSPFAB_TRUST_STORE"):
        env.pop(var, None)
    done = subprocess.run([sys.executable, "-c", RUN.format(commands=commands)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and "FAILED" not in done.stdout, done.stdout + done.stderr


def world_or_group_writable(root: Path) -> list[str]:
    found = [root, *root.rglob("*")]
    return [f"{p} {stat.S_IMODE(p.stat().st_mode):04o}" for p in found
            if p.is_dir() and stat.S_IMODE(p.stat().st_mode) & 0o022]


def test_keys_new_and_trust_make_private_folders(tmp_path):
    home = tmp_path / "home"
    run_with_umask_0(home, [["keys", "new", "val"], ["keys", "trust", str(home / "keys" / "val.pub"), "--name",
                                                                "V. Alidator", "--role", "engineer"]])
    assert world_or_group_writable(tmp_path / "home") == []
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_init_and_the_validation_cache_make_private_folders(tmp_path):
    home = tmp_path / "home"
    run_with_umask_0(home, [["init", "--site", "Ward 3", "--catalog", str(REPO / "catalog")], ["config", "show"],
                            ["profiles", "list"]])
    assert (home / "cache").is_dir()  # the site configuration's validation was cached
    assert world_or_group_writable(tmp_path / "home") == []
