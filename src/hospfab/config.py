"""The site configuration: one YAML file that sets a workstation up once.

Where it is (first found): ``$HOSPFAB_CONFIG``; ``<config>/config.yaml`` (``$HOSPFAB_HOME`` or the user config
directory); the site-wide ``config.yaml`` in the platform's site config directory (``/etc/xdg/hospfab`` on
Linux, for a hospital that deploys one file to every workstation; not read when ``HOSPFAB_HOME`` is set).
``hospfab init`` writes it; ``hospfab config show`` shows what is in effect and where each value comes from.

Relative paths in the file are relative to the file's own folder. Unknown keys are refused, naming the file.
Validation imports yaml and pydantic, so its result is cached by the file's sha256 (``hospfab.contentcache``):
an unchanged file costs one read and one hash per command.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hospfab.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import BaseModel

CONFIG_ENV = "HOSPFAB_CONFIG"
CONFIG_NAME = "config.yaml"
#: Keys holding paths, resolved against the config file's folder.
PATH_KEYS = ("catalog", "fleet", "trust_store", "site_profiles")


def _model() -> type[BaseModel]:
    """The pydantic model, built on first use (pydantic stays off the fast path)."""
    from typing import Literal

    from pydantic import BaseModel, ConfigDict, field_validator

    class SiteConfig(BaseModel):
        """``config.yaml``: where this workstation finds the hospital's catalog, fleet, journal and keys."""

        model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

        version: Literal[1] = 1
        """Format version of this file (1)."""
        site: str | None = None
        """Name of this site (e.g. ``icu``, ``lariboisiere``): shown by doctor and recorded with jobs."""
        catalog: str | None = None
        """Folder of the hospital's catalog (a git clone of its catalog repository)."""
        catalog_repository: str | None = None
        """Where the catalog folder was cloned from (git URL), for ``hospfab doctor`` and people."""
        fleet: str | None = None
        """The fleet file listing this site's OctoPrint printers."""
        database: str | None = None
        """Journal database URL (``postgresql://user@host/db`` or ``sqlite:///path``); default: SQLite in
        the user data directory."""
        trust_store: str | None = None
        """Folder of trusted validators' public keys used to verify catalog signatures."""
        site_profiles: str | None = None
        """Site profiles folder: printers/materials/processes that extend or override the shipped ones."""
        alerts: dict[str, Any] | None = None
        """Alert settings; validated by ``hospfab.alerts`` when that module is installed."""

        @field_validator("site")
        @classmethod
        def _site_name(cls, value: str | None) -> str | None:
            if value is not None and (not value.strip() or "\n" in value or len(value) > 64):
                raise ValueError("must be one line of at most 64 characters")
            return value

    return SiteConfig


def site_config_model() -> type[BaseModel]:
    """The ``SiteConfig`` pydantic model class (for documentation and tests)."""
    return _model()


def _validate_alerts(value: Any, path: Path) -> None:
    """Hand the ``alerts`` mapping to ``hospfab.alerts`` when it exists (it owns that key's format)."""
    import importlib
    import importlib.util

    if value is None or importlib.util.find_spec("hospfab.alerts") is None:
        return
    alerts = importlib.import_module("hospfab.alerts")
    validate = getattr(alerts, "validate_config", None)
    model = getattr(alerts, "AlertsConfig", None)
    try:
        if callable(validate):
            validate(value)
        elif model is not None and hasattr(model, "model_validate"):
            model.model_validate(value)
    except ConfigError as err:
        raise ConfigError(f"{path}: key 'alerts': {err.message}") from None
    except ValueError as err:  # pydantic's ValidationError is a ValueError
        first = str(err).splitlines()
        raise ConfigError(f"{path}: key 'alerts': {first[-1].strip() if first else err}") from None


def validate_file(path: Path) -> dict[str, Any]:
    """Read and validate a config file; the mapping of set keys, paths made absolute. ConfigError names it."""
    from pydantic import ValidationError

    from hospfab.fileio import describe_validation_error, read_yaml_mapping

    data = read_yaml_mapping(path, what="site configuration")
    model = _model()
    try:
        config = model(**data)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err, path, model=model, data=data)) from None
    except TypeError as err:  # non-string keys
        raise ConfigError(f"{path}: {err}") from None
    _validate_alerts(getattr(config, "alerts", None), path)
    values = config.model_dump(exclude_none=True, exclude={"version"})
    for key in PATH_KEYS:
        if key in values:
            values[key] = str(absolute(values[key], path.parent))
    return values


def absolute(value: str, base: Path) -> Path:
    """``value`` as a path; ``~`` expanded, relative paths taken from ``base``."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else Path(os.path.normpath(base / p))


def find_config_file(config_dir: Path, *, isolated: bool) -> tuple[Path | None, str]:
    """The config file in effect and why: (path or None, ``HOSPFAB_CONFIG`` / ``user`` / ``site`` / ``none``).

    A ``HOSPFAB_CONFIG`` naming a missing file is an error (a typo must not silently mean "no config").
    """
    env = os.environ.get(CONFIG_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ConfigError(f"{path}: site configuration not found (named by {CONFIG_ENV})", code="not_found")
        return path, CONFIG_ENV
    user = config_dir / CONFIG_NAME
    if user.is_file():
        return user, "user"
    if not isolated:
        import platformdirs

        site = Path(platformdirs.site_config_dir("hospfab")) / CONFIG_NAME
        if site.is_file():
            return site, "site"
    return None, "none"


def load(path: Path, cache_dir: Path | None) -> dict[str, Any]:
    """The validated content of ``path`` (see :func:`validate_file`), from the content cache when unchanged."""
    from hospfab import contentcache
    from hospfab.fileio import read_regular_text

    text = read_regular_text(path, what="site configuration")
    import importlib.util

    alerts = importlib.util.find_spec("hospfab.alerts")
    code = contentcache.source_fingerprint(__file__, *([alerts.origin] if alerts and alerts.origin else []))
    key = contentcache.digest([code, str(path.resolve()), text])
    hit = contentcache.lookup(cache_dir, "config", key)
    if isinstance(hit, dict):
        return hit
    values = validate_file(path)
    contentcache.store(cache_dir, "config", key, values)
    return values


def render_yaml(values: dict[str, Any]) -> str:
    """The text ``hospfab init`` writes: every known key, with its docstring as a comment."""
    import textwrap

    import yaml

    model = _model()
    lines = ["# hospfab site configuration (written by `hospfab init`; see `hospfab config show`)", "version: 1"]
    for name, field in model.model_fields.items():
        if name == "version":
            continue
        doc = " ".join((field.description or "").split())
        lines.extend(textwrap.wrap(doc, 100, initial_indent="# ", subsequent_indent="# "))
        if values.get(name) is None:
            lines.append(f"# {name}:")
        else:
            lines.append(yaml.safe_dump({name: values[name]}, sort_keys=False, allow_unicode=True).rstrip())
    return "\n".join(lines) + "\n"


def home_dirs() -> tuple[Path, Path, bool]:
    """(config dir, data dir, isolated): ``HOSPFAB_HOME`` for both, else the platform's user directories."""
    home = os.environ.get("HOSPFAB_HOME")
    if home:
        return Path(home).expanduser(), Path(home).expanduser(), True
    import platformdirs

    return Path(platformdirs.user_config_dir("hospfab")), Path(platformdirs.user_data_dir("hospfab")), False


def target_path() -> Path:
    """Where ``hospfab init`` writes: ``$HOSPFAB_CONFIG``, else ``<config>/config.yaml``."""
    env = os.environ.get(CONFIG_ENV)
    return Path(env).expanduser() if env else home_dirs()[0] / CONFIG_NAME


def check_values(values: dict[str, Any], path: Path) -> None:
    """Refuse values ``hospfab init`` would write but the model would not read back (ConfigError)."""
    from pydantic import ValidationError

    from hospfab.fileio import describe_validation_error

    model = _model()
    try:
        model(**values)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err, path, model=model, data=values)) from None


def is_git_url(text: str) -> bool:
    """A remote repository (``https://...``, ``ssh://...``, ``git@host:path``, ``file://...``, ``*.git``)."""
    return "://" in text or text.startswith("git@") or (text.endswith(".git") and not Path(text).is_dir())
