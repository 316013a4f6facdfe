"""A throw-away PostgreSQL server in a folder, on 127.0.0.1 (tests and benchmarks; never for production).

Uses Debian's ``postgresql`` binaries (``/usr/lib/postgresql/<version>/bin``, newest version found, or
``$HOSPFAB_PG_BIN``). ``initdb`` and ``postgres`` refuse to run as root: as root the folder is given to the
``postgres`` user and the binaries run through ``runuser -u postgres``. Authentication is ``trust`` on
127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def pg_bin_dir() -> Path | None:
    """The folder of ``initdb``/``pg_ctl``, or None when PostgreSQL is not installed."""
    env = os.environ.get("HOSPFAB_PG_BIN")
    candidates = [Path(env)] if env else []

    def version_key(path: Path) -> tuple[int, str]:
        name = path.parent.name
        return (int(name) if name.isdigit() else 0, name)

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version_key, reverse=True)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalPostgres:
    """``initdb`` + ``pg_ctl start`` in ``folder``; ``url(dbname)``, ``stop(mode)``, ``start()``."""

    def __init__(self, folder: Path, bin_dir: Path, port: int | None = None) -> None:
        self.as_root = os.geteuid() == 0
        if self.as_root:  # the postgres user must reach the folder: root's temporary folders are 0700
            folder = Path(tempfile.mkdtemp(prefix="hospfab-pg-"))
            folder.chmod(0o711)
        self.folder, self.bin_dir = folder, bin_dir
        self.data = folder / "data"
        self.port = port or free_port()

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = list(args)
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> LocalPostgres:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        try:
            self._run(str(self.bin_dir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                      "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
        except subprocess.CalledProcessError as err:
            raise RuntimeError(f"initdb failed: {err.stderr.strip()[-500:]}") from err
        return self

    def start(self) -> LocalPostgres:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=200")  # fmt: skip
        try:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                      str(self.folder / "log"), "-w", "-t", "60", "start")  # fmt: skip
        except subprocess.CalledProcessError as err:
            log = (self.folder / "log").read_text(errors="replace")[-800:] if (self.folder / "log").exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {err.stderr.strip()[-300:]} {log}") from err
        return self

    def running(self) -> bool:
        return self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "status", check=False).returncode == 0

    def ensure_started(self) -> None:
        if not self.running():
            self.start()

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def admin(self, sql: str) -> None:
        """Run one statement as the superuser on the ``postgres`` database (CREATE/DROP DATABASE ...)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)
