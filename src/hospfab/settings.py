"""Where hospfab keeps and finds things: one precedence, in one place (:meth:`Settings.resolve`).

For every setting, the first that is given wins: the command-line option (``--catalog``...), the environment
variable (``HOSPFAB_CATALOG``...), the site configuration file (``hospfab.config``, written by ``hospfab init``),
the default. ``hospfab config show`` prints the result and where each value came from.

- catalog:  ``--catalog``, ``HOSPFAB_CATALOG``, ``catalog:``; default: the ``catalog/`` folder of a source
  checkout; an installed hospfab has no default catalog (commands that need one say how to configure it).
- profiles: ``--profiles``, ``HOSPFAB_PROFILES``; default: the shipped profiles (the checkout's ``profiles/``,
  or ``hospfab/_shipped/profiles`` inside an installed wheel). Site profiles (``site_profiles:`` in the config or
  ``HOSPFAB_SITE_PROFILES``) extend and override them.
- fleet:    ``--fleet``, ``HOSPFAB_FLEET``, ``fleet:``, ``<config>/fleet.yaml``.
- database: ``--database``, ``HOSPFAB_DATABASE``, ``database:``; default: SQLite ``<data>/journal.sqlite3``.
- trust store: ``--trust-store``, ``HOSPFAB_TRUST_STORE``, ``trust_store:``; default: ``<config>/trust/trust.yaml`` (the site's pinned
  validator keys; never inside the catalog).
- site:     ``HOSPFAB_SITE``, ``site:``.
- config and data folders: ``HOSPFAB_HOME`` overrides both (tests set it so they never touch the user's home);
  otherwise the platform's user config and data directories (platformdirs).

A :class:`Settings` object is built once per CLI invocation and passed down explicitly: no module-level state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hospfab.errors import ConfigError

if TYPE_CHECKING:
    from hospfab.catalog.checks import Checks
    from hospfab.catalog.store import Catalog
    from hospfab.profiles.store import ProfileStore

APP_NAME = "hospfab"

NO_CATALOG = (
    "no catalog configured: run `hospfab init --catalog FOLDER_OR_GIT_URL` once on this workstation, "
    "or pass --catalog FOLDER (or set HOSPFAB_CATALOG)"
)


def checkout_root() -> Path | None:
    """The source checkout this package runs from (editable install), or None when installed elsewhere."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "src" / "hospfab").is_dir():
        return root
    return None


def shipped_profiles_dir() -> Path:
    """The profiles that come with hospfab: the checkout's ``profiles/``, else the copy inside the package."""
    root = checkout_root()
    if root is not None and (root / "profiles").is_dir():
        return root / "profiles"
    return Path(__file__).resolve().parent / "_shipped" / "profiles"


def _env(var: str) -> str | None:
    return os.environ.get(var) or None


@dataclass(frozen=True)
class Settings:
    config_dir: Path
    data_dir: Path
    catalog_path: Path | None
    profiles_dir: Path
    fleet_path: Path
    site_profiles_dir: Path | None = None
    database_url: str | None = None
    database_file: Path | None = None  # HOSPFAB_DATABASE_FILE: an owner-only file holding the database URL
    trust_store: Path | None = None  # None: <config>/trust/trust.yaml
    site: str | None = None
    alerts: dict[str, Any] | None = None
    config_file: Path | None = None
    #: setting name -> where its value came from: "--catalog", "HOSPFAB_CATALOG", "config", "default"
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def catalog_dir(self) -> Path:
        """The catalog folder; ConfigError (exit 2) saying how to configure one when none is."""
        if self.catalog_path is None:
            raise ConfigError(NO_CATALOG, code="no_catalog")
        return self.catalog_path

    @property
    def journal_path(self) -> Path:
        """The default, embedded SQLite journal file."""
        return self.data_dir / "journal.sqlite3"

    @property
    def database_target(self) -> Path | str:
        """What the journal, queue and printer state open: the configured URL (or SQLite path), the URL in
        the owner-only ``database_file``, else the SQLite journal file."""
        if self.database_url:
            return self.database_url
        if self.database_file is not None:
            from hospfab.journal.db import read_url_file

            return read_url_file(self.database_file)
        return self.journal_path

    @property
    def trust_store_path(self) -> Path:
        """The site's trust store: which validator keys are pinned, for whom, with which roles."""
        return self.trust_store or self.config_dir / "trust" / "trust.yaml"

    @property
    def cache_dir(self) -> Path:
        """Validated profiles and configuration, keyed by content hash (``hospfab.contentcache``)."""
        return self.data_dir / "cache"

    def catalog(self, checks: Checks | None = None) -> Catalog:
        """The configured catalog, read against this site's trust store (``--trust-store`` included) and
        recording the index versions it has seen in this workstation's journal."""
        from hospfab.catalog.store import Catalog

        return Catalog(self.catalog_dir, checks=checks, trust=self.trust_store_path, seen=self.journal_path)

    def profile_store(self) -> ProfileStore:
        """The shipped (or ``--profiles``) profiles, extended and overridden by the site profiles."""
        from hospfab.profiles.store import ProfileStore

        return ProfileStore(self.profiles_dir, site_dir=self.site_profiles_dir, cache_dir=self.cache_dir)

    @classmethod
    def resolve(
        cls,
        *,
        catalog: Path | None = None,
        profiles: Path | None = None,
        fleet: Path | None = None,
        trust_store: Path | None = None,
        database: str | None = None,
    ) -> Settings:
        """Flag > environment > site configuration > default, for every setting (see the module docstring)."""
        from hospfab import config as site_config

        home = _env("HOSPFAB_HOME")
        if home is not None:
            config_dir = data_dir = Path(home).expanduser()
        else:
            import platformdirs

            config_dir = Path(platformdirs.user_config_dir(APP_NAME))
            data_dir = Path(platformdirs.user_data_dir(APP_NAME))
        config_file, why = site_config.find_config_file(config_dir, isolated=home is not None)
        conf = site_config.load(config_file, data_dir / "cache") if config_file else {}
        sources: dict[str, str] = {"config_file": {"none": "default"}.get(why, why)}

        def pick(name: str, flag: Any, option: str | None, env: str | None, default: Any = None) -> Any:
            if flag is not None:
                sources[name] = option or "argument"
                return flag
            if env is not None and _env(env) is not None:
                sources[name] = env
                return _env(env)
            if conf.get(name) is not None:
                sources[name] = "config"
                return conf[name]
            sources[name] = "default"
            return default

        def path(value: Any) -> Path | None:
            return None if value is None else Path(value).expanduser()

        def given_path(value: Any) -> Path:  # a setting with a default: never None
            return Path(value).expanduser()

        root = checkout_root()
        default_catalog = root / "catalog" if root is not None and (root / "catalog").is_dir() else None
        settings = cls(
            config_dir=config_dir,
            data_dir=data_dir,
            catalog_path=path(pick("catalog", catalog, "--catalog", "HOSPFAB_CATALOG", default_catalog)),
            profiles_dir=given_path(pick("profiles", profiles, "--profiles", "HOSPFAB_PROFILES", shipped_profiles_dir())),
            fleet_path=given_path(pick("fleet", fleet, "--fleet", "HOSPFAB_FLEET", config_dir / "fleet.yaml")),
            site_profiles_dir=path(pick("site_profiles", None, None, "HOSPFAB_SITE_PROFILES")),
            database_url=_database_value(pick("database", database, "--database", "HOSPFAB_DATABASE"), sources),
            database_file=path(pick("database_file", None, None, "HOSPFAB_DATABASE_FILE")),
            trust_store=path(pick("trust_store", trust_store, "--trust-store", "HOSPFAB_TRUST_STORE")),
            site=pick("site", None, None, "HOSPFAB_SITE"),
            alerts=conf.get("alerts"),
            config_file=config_file,
            sources=sources,
        )
        return settings

    def shown(self) -> dict[str, dict[str, Any]]:
        """Every setting, its value (secrets masked) and where it came from: for ``hospfab config show``."""
        values: dict[str, Any] = {
            "site": self.site,
            "catalog": self.catalog_path,
            "profiles": self.profiles_dir,
            "site_profiles": self.site_profiles_dir,
            "fleet": self.fleet_path,
            "database": mask_secrets(self.database_url) if self.database_url else None,
            "trust_store": self.trust_store_path,
        }
        out = {
            name: {"value": None if value is None else str(value), "source": self.sources.get(name, "default")}
            for name, value in values.items()
        }
        if self.database_url is None:
            out["database"]["value"] = f"sqlite (journal {self.journal_path})"
        from hospfab.alerts.config import shown_alerts

        out["alerts"] = {"value": shown_alerts(self.alerts) if self.alerts else None,
                         "source": "config" if self.alerts else "default"}
        out["config_file"] = {"value": str(self.config_file) if self.config_file else None,
                              "source": self.sources.get("config_file", "default")}
        out["config_dir"] = {"value": str(self.config_dir), "source": "HOSPFAB_HOME" if _env("HOSPFAB_HOME")
                             else "default"}
        out["data_dir"] = {"value": str(self.data_dir), "source": out["config_dir"]["source"]}
        return out


def _database_value(value: Any, sources: dict[str, str]) -> Any:
    """The database setting, refused (ConfigError, the value not shown) when it is a libpq keyword string
    (``host=db password=...``): it is neither a URL nor a path, and taken as a SQLite file name it would create
    a journal named after the password and print it in every message about the journal."""
    import re

    if isinstance(value, str) and "://" not in value and re.search(
            r"(?i)(^|\s)(host|hostaddr|dbname|user|password|sslpassword|port|sslmode|service)\s*=", value):
        where = sources.get("database", "database")
        where = "database: in the site configuration" if where == "config" else where
        raise ConfigError(f"{where}: a libpq keyword string (host=... dbname=...) is not a journal database: give "
                          "a postgresql://user@host/db URL (its password in HOSPFAB_DATABASE_FILE) or a SQLite file "
                          "path (the value is not shown: it may hold a password)", code="invalid_database")
    return value


SECRET_WORDS = ("password", "passwd", "secret", "token", "key", "credential", "auth")


def mask_secrets(value: Any, key: str = "") -> Any:
    """``value`` with secrets replaced by ``***``: a URL's password, and any value whose key looks like a
    secret (``password``, ``token``, ``api_key``...) unless it only names where the secret is (``*_file``,
    ``*_env``)."""
    if isinstance(value, dict):
        return {k: mask_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v, key) for v in value]
    lowered = key.lower()
    if value is not None and any(w in lowered for w in SECRET_WORDS) and not lowered.endswith(("_file", "_env")):
        return "***"
    if isinstance(value, str) and "://" in value:
        return _mask_url(value)
    if isinstance(value, str) and "=" in value:
        return _mask_keywords(value)
    return value


_SECRET_KEYWORDS = ("password", "sslpassword")


def _mask_keywords(text: str) -> str:
    """A libpq keyword/value connection string (``host=db password=x``) with its password values masked."""
    import re

    return re.sub(r"(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)", r"\1***", text)


def _mask_url(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    from urllib.parse import unquote

    if parts.password is None and "password" not in unquote(parts.query).lower():
        return url
    netloc = parts.netloc
    if parts.password is not None:
        user = parts.username or ""
        host = netloc.rpartition("@")[2]
        netloc = f"{user}:***@{host}"
    query = "&".join(
        f"{k}=***" if unquote(k).strip().lower() in _SECRET_KEYWORDS else f"{k}={v}"
        for k, _, v in (item.partition("=") for item in parts.query.split("&") if item)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def make_private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents as 0700 folders, whatever the umask (existing ones are left)."""
    path = Path(path)
    missing = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask; chmod is not
    return path


def create_private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if it does not exist (its folder 0700), whatever the umask."""
    path = Path(path)
    make_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except FileExistsError:
        return path
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return path
