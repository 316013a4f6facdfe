"""Where hospfab keeps and finds things.

Resolution order for each location (first hit wins):

- catalog:  ``--catalog`` option, ``HOSPFAB_CATALOG``, the ``catalog/`` folder of this checkout, ``<data>/catalog``
- profiles: ``--profiles`` option, ``HOSPFAB_PROFILES``, the ``profiles/`` folder of this checkout,
  the profiles bundled in the package (``hospfab/_shipped/profiles`` when installed from a wheel)
- fleet:    ``--fleet`` option, ``HOSPFAB_FLEET``, ``<config>/fleet.yaml``
- database: ``--database`` option, ``HOSPFAB_DATABASE`` (a ``postgresql://`` URL or an SQLite path), the URL in
  the owner-only file named by ``HOSPFAB_DATABASE_FILE``, else the SQLite file ``<data>/journal.sqlite3``
- config and data: ``HOSPFAB_HOME`` overrides both (tests set it so they never touch the user's home);
  otherwise the platform's user config and data directories (platformdirs).

A :class:`Settings` object is built once per CLI invocation and passed down explicitly: no module-level state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "hospfab"


def checkout_root() -> Path | None:
    """The source checkout this package runs from (editable install), or None when installed elsewhere."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "src" / "hospfab").is_dir():
        return root
    return None


def _shipped(name: str) -> Path:
    root = checkout_root()
    if root is not None and (root / name).is_dir():
        return root / name
    return Path(__file__).resolve().parent / "_shipped" / name


def _env_path(var: str) -> Path | None:
    value = os.environ.get(var)
    return Path(value).expanduser() if value else None


@dataclass(frozen=True)
class Settings:
    config_dir: Path
    data_dir: Path
    catalog_dir: Path
    profiles_dir: Path
    fleet_path: Path
    database: str | None = None  # a postgresql:// URL or an SQLite path; None: the default SQLite journal
    database_file: Path | None = None  # HOSPFAB_DATABASE_FILE: an owner-only file holding the URL

    @property
    def journal_path(self) -> Path:
        """The default, embedded SQLite journal file."""
        return self.data_dir / "journal.sqlite3"

    @property
    def database_target(self) -> Path | str:
        """What the journal, queue and printer state open: the configured URL or path, else the SQLite file."""
        if self.database:
            return self.database
        if self.database_file is not None:
            from hospfab.journal.db import read_url_file

            return read_url_file(self.database_file)
        return self.journal_path

    @classmethod
    def resolve(
        cls,
        *,
        catalog: Path | None = None,
        profiles: Path | None = None,
        fleet: Path | None = None,
        database: str | None = None,
    ) -> Settings:
        home = _env_path("HOSPFAB_HOME")
        if home is not None:
            config_dir = data_dir = home
        else:
            import platformdirs

            config_dir = Path(platformdirs.user_config_dir(APP_NAME))
            data_dir = Path(platformdirs.user_data_dir(APP_NAME))
        return cls(
            config_dir=config_dir,
            data_dir=data_dir,
            catalog_dir=catalog or _env_path("HOSPFAB_CATALOG") or _shipped_or(data_dir, "catalog"),
            profiles_dir=profiles or _env_path("HOSPFAB_PROFILES") or _shipped("profiles"),
            fleet_path=fleet or _env_path("HOSPFAB_FLEET") or config_dir / "fleet.yaml",
            database=database or os.environ.get("HOSPFAB_DATABASE") or None,
            database_file=_env_path("HOSPFAB_DATABASE_FILE"),
        )


def _shipped_or(data_dir: Path, name: str) -> Path:
    shipped = _shipped(name)
    return shipped if shipped.is_dir() else data_dir / name

