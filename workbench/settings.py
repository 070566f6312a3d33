"""Settings: one TOML file, ``mancerops.toml``, that names its secrets and never holds them.

>>> from workbench import settings
>>> current = settings.load()               # --config, $MANCEROPS_CONFIG, ./, user config dir
>>> prom = current.prometheus_source()       # URL, auth and TLS of [prometheus]
>>> logs = current.elasticsearch_source()    # ... of [elasticsearch]
>>> hosts = current.inventory()              # the [[hosts]] tables

The file is looked for in this order, first hit wins: the ``config`` argument (the CLI's
``--config``), the file named by ``$MANCEROPS_CONFIG``, ``./mancerops.toml``, then
``mancerops.toml`` in the user config dir (``~/.config/mancerops`` on Linux). No file is
not an error: every setting then has its built-in default.

A value is taken, first hit wins, from: the caller (a CLI option or a keyword argument),
the environment (``MANCEROPS_<SECTION>_<KEY>``, e.g. ``MANCEROPS_PROMETHEUS_URL``), the
file, the built-in default. Secrets are read from the environment variables that
``*_env`` keys name, only when a source is built, and are never stored here: no repr,
log line or error message can show them. A profile (``[profiles.NAME.prometheus]``...,
chosen by ``profile=`` or ``$MANCEROPS_PROFILE``) replaces whole sections.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import platformdirs

from workbench.errors import SettingsError, UsageError

CONFIG_FILE = "mancerops.toml"
CONFIG_ENV = "MANCEROPS_CONFIG"
PROFILE_ENV = "MANCEROPS_PROFILE"
ENV_PREFIX = "MANCEROPS_"
APP_NAME = "mancerops"
DEFAULT_TOP = 5
DOCS = "docs/configuration.md"
# Keys that would hold a secret in the file, and the key that names its variable instead.
_SECRET_KEYS = {"password": "password_env", "token": "token_env", "api_key": "api_key_env"}
_AUTH_KEYS = ("username", "password", "bearer_token", "api_key")
# The settings keys of authentication, taken or left as a whole.
_AUTH = frozenset({"user", "password_env", "token_env", "api_key_env"})
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")
_MSGSPEC_PATH = re.compile(r" - at `\$\.?([^`\[]*)[^`]*`$")


@dataclass(frozen=True, slots=True)
class PrometheusSettings:
    """``[prometheus]``: where the metrics are pulled from (see :class:`PrometheusSource`)."""

    url: str | None = None
    user: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    verify: bool | None = None
    timeout: float | None = None
    retries: int | None = None
    service_labels: tuple[str, ...] | None = None
    queries: str | None = None
    step: str | None = None


@dataclass(frozen=True, slots=True)
class ElasticsearchSettings:
    """``[elasticsearch]``: where the logs are pulled from (Elasticsearch or OpenSearch)."""

    url: str | None = None
    index: str | None = None
    user: str | None = None
    password_env: str | None = None
    api_key_env: str | None = None
    token_env: str | None = None
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    verify: bool | None = None
    timeout: float | None = None
    retries: int | None = None
    page_size: int | None = None
    allow_partial: bool | None = None
    mapping: dict[str, str | list[str]] | None = None


@dataclass(frozen=True, slots=True)
class JaegerSettings:
    """``[jaeger]``: the Jaeger query service traces are read from."""

    url: str | None = None
    user: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    ca_bundle: str | None = None
    verify: bool | None = None
    timeout: float | None = None
    retries: int | None = None
    api: str | None = None


@dataclass(frozen=True, slots=True)
class MancerSettings:
    """``[mancer]``: how the ``[[hosts]]`` are read."""

    parallel: int | None = None
    timeout: float | None = None
    snapshots: str | None = None


@dataclass(frozen=True, slots=True)
class InvestigateSettings:
    """``[investigate]``: defaults of ``mancerops investigate``."""

    top: int | None = None
    report_dir: str | None = None


_SECTIONS: dict[str, type] = {
    "prometheus": PrometheusSettings,
    "elasticsearch": ElasticsearchSettings,
    "jaeger": JaegerSettings,
    "mancer": MancerSettings,
    "investigate": InvestigateSettings,
}
_HOSTS = "hosts"
_PROFILES = "profiles"
# Sections a profile may replace; hosts and [mancer] are one inventory for all profiles.
_PROFILE_SECTIONS = ("prometheus", "elasticsearch", "jaeger", "investigate")
# Keys holding a path: relative ones are read from the settings file's folder.
_PATH_KEYS = frozenset(
    {"ca_bundle", "client_cert", "client_key", "queries", "report_dir", "snapshots"}
)
# Keys that hold the name of a variable with a secret, mapped to the source's keyword.
_ENV_KEYS = {"password_env": "password", "token_env": "bearer_token", "api_key_env": "api_key"}


@dataclass(frozen=True, slots=True)
class Settings:
    """The settings in effect: the file's sections with the environment's overrides.

    ``path`` is the file read (None when there was none) and ``searched`` every place
    looked at. ``origins`` says where each value set came from, ``"FILE:LINE"`` or
    ``"env NAME"``. Only names of secret variables are held, never their values.
    """

    prometheus: PrometheusSettings = field(default_factory=PrometheusSettings)
    elasticsearch: ElasticsearchSettings = field(default_factory=ElasticsearchSettings)
    jaeger: JaegerSettings = field(default_factory=JaegerSettings)
    mancer: MancerSettings = field(default_factory=MancerSettings)
    investigate: InvestigateSettings = field(default_factory=InvestigateSettings)
    hosts: tuple[Any, ...] = ()
    profile: str | None = None
    profile_sections: tuple[str, ...] = ()
    path: Path | None = None
    searched: tuple[Path, ...] = ()
    origins: Mapping[str, str] = field(default_factory=dict)

    # -- building sources ----------------------------------------------------------

    def source_options(
        self, section: str, url: str | None = None, **given: Any
    ) -> tuple[str, dict[str, Any]]:
        """Return the URL and constructor keywords of a source, settings under ``given``.

        ``given`` holds the caller's keywords (``None`` means not given) and wins over
        the settings key by key, except authentication, which is taken whole: from
        ``given`` when it names any, else from the settings. The settings' credentials
        and client certificate are sent only to the settings' own URL, never to a URL
        the caller gives instead.
        """
        chosen = getattr(self, section)
        target = url if url is not None else chosen.url
        if target is None:
            raise SettingsError(
                f"no {_TITLES[section]} URL: pass one, or set url in [{self._title(section)}] of "
                f"{self._file_hint()} (or ${ENV_PREFIX}{section.upper()}_URL); see {DOCS}"
            )
        same_place = url is None or _same_url(url, chosen.url)
        given = {k: v for k, v in given.items() if v is not None}
        auth_given = any(k in given for k in _AUTH_KEYS)
        options: dict[str, Any] = {}
        for name in _SOURCE_KEYS[section]:
            value = getattr(chosen, name)
            if value is None:
                continue
            if (not same_place and name in _PRIVATE_KEYS) or (auth_given and name in _AUTH):
                continue
            if name in _ENV_KEYS:
                options[_ENV_KEYS[name]] = self.secret(section, name)
            elif name in _PATH_KEYS and not Path(value).exists():
                raise SettingsError(
                    f"{self.where(section, name)}: [{self._title(section)}] {name}: {value} "
                    "does not exist"
                )
            else:
                options[_RENAMED.get(name, name)] = value
        options.update(given)
        return target, options

    def prometheus_source(self, url: str | None = None, **given: Any):
        """Return a :class:`~workbench.sources.PrometheusSource` built from ``[prometheus]``."""
        from workbench.sources.prometheus import PrometheusSource

        target, options = self.source_options("prometheus", url, **given)
        return PrometheusSource(target, **options)

    def elasticsearch_source(self, url: str | None = None, **given: Any):
        """Return an :class:`~workbench.sources.ElasticsearchSource` from ``[elasticsearch]``."""
        from workbench.sources.elasticsearch import ElasticsearchSource, LogMapping

        target, options = self.source_options("elasticsearch", url, **given)
        if isinstance(options.get("mapping"), dict):
            try:
                options["mapping"] = LogMapping.from_dict(options["mapping"])
            except UsageError as error:
                where = self.where("elasticsearch", "mapping")
                raise SettingsError(f"{where}: [elasticsearch] mapping: {error}") from None
        return ElasticsearchSource(target, **options)

    def jaeger_source(self, url: str | None = None, **given: Any):
        """Return a :class:`~workbench.sources.JaegerSource` built from ``[jaeger]``."""
        from workbench.sources._http import tls_context
        from workbench.sources.jaeger import JaegerSource

        target, options = self.source_options("jaeger", url, **given)
        # JaegerSource takes basic auth from the URL's user info and TLS as ``verify``.
        username, password = options.pop("username", None), options.pop("password", None)
        if username is not None:
            target = str(httpx.URL(target).copy_with(username=username, password=password or ""))
        token = options.pop("bearer_token", None)
        if token is not None:
            options["headers"] = {**options.get("headers", {}), "Authorization": f"Bearer {token}"}
        ca_bundle = options.pop("ca_bundle", None)
        options["verify"] = tls_context(options.get("verify", True), ca_bundle, None, None)
        return JaegerSource(target, **options)

    def inventory(self):
        """Return the :class:`~workbench.sources.mancer.Inventory` of the ``[[hosts]]``."""
        from workbench.sources.mancer import Inventory

        if not self.hosts:
            raise SettingsError(
                f"{self._file_hint()} lists no hosts; add a [[hosts]] table with name and "
                "address (see docs/sources/mancer.md)"
            )
        options = {
            "parallel": self.mancer.parallel,
            "timeout": self.mancer.timeout,
            "snapshots": self.mancer.snapshots,
        }
        return Inventory(self.hosts, **{k: v for k, v in options.items() if v is not None})

    def secret(self, section: str, key: str) -> str | None:
        """Return the value of the variable that ``[section] key`` names (None when unnamed).

        Raises :class:`SettingsError` naming the file, key and variable when it is unset.
        """
        variable = getattr(getattr(self, section), key)
        if variable is None:
            return None
        value = os.environ.get(variable)
        if not value:
            raise SettingsError(
                f"{self.where(section, key)}: [{self._title(section)}] {key} names the environment "
                f"variable {variable}, which is not set (or empty); export {variable} "
                f"before running, or change {key}"
            )
        return value

    # -- showing -------------------------------------------------------------------

    def where(self, section: str, key: str | None = None) -> str:
        """Return where a setting came from: ``FILE:LINE``, ``env NAME`` or the file."""
        return (
            self.origins.get(f"{section}.{key}") or self.origins.get(section) or (self._file_hint())
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the settings set (file or environment) as TOML-shaped data; no secret."""
        out: dict[str, Any] = {}
        for name in _SECTIONS:
            values = {
                k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(getattr(self, name)).items()
                if v is not None
            }
            if values:
                out[name] = values
        if self.hosts:
            out[_HOSTS] = [_host_dict(h) for h in self.hosts]
        return out

    def to_toml(self) -> str:
        """Return the settings in effect as TOML, each value with where it came from.

        Secret variables are shown by name with whether they are set; never their values.
        """
        head = (
            f"# settings file: {self.path}"
            if self.path is not None
            else "# no settings file; looked at " + ", ".join(map(str, self.searched))
        )
        if self.profile is not None:
            head += f" (profile {self.profile})"
        out = [head]
        for name, values in self.to_dict().items():
            if name == _HOSTS:
                for number, host in enumerate(values):
                    out += ["", f"[[hosts]]  # {self._origin(f'hosts.{number}')}"]
                    out += [f"{k} = {_toml(v)}" for k, v in host.items()]
                continue
            out += ["", f"[{name}]"]
            for key, value in values.items():
                note = self._origin(f"{name}.{key}")
                if key in _ENV_KEYS:
                    state = "set" if os.environ.get(value) else "NOT SET"
                    note += f"; {value} is {state}" + (" (value hidden)" if state == "set" else "")
                out.append(f"{key} = {_toml(value)}  # {note}")
        return "\n".join(out) + "\n"

    def _origin(self, key: str) -> str:
        origin = self.origins.get(key, "")
        if self.path is not None and origin.startswith(f"{self.path}:"):
            return "line " + origin.rsplit(":", 1)[1]
        return origin

    def secrets(self) -> dict[str, bool]:
        """Return each ``section.key_env`` set and whether its variable holds a value."""
        named = {}
        for name in _SECTIONS:
            for key in _ENV_KEYS:
                variable = getattr(getattr(self, name), key, None)
                if variable is not None:
                    named[f"{name}.{key}"] = bool(os.environ.get(variable))
        return named

    def _title(self, section: str) -> str:
        """Return the table a section was read from: ``prometheus`` or ``profiles.X.prometheus``."""
        if section in self.profile_sections:
            return f"{_PROFILES}.{self.profile}.{section}"
        return section

    def _file_hint(self) -> str:
        if self.path is not None:
            return str(self.path)
        return "the settings file (none found: " + ", ".join(map(str, self.searched)) + ")"


_TITLES = {"prometheus": "Prometheus", "elasticsearch": "Elasticsearch", "jaeger": "Jaeger"}
# Settings keys passed to each source's constructor (the rest are read by their callers).
_SOURCE_KEYS = {
    "prometheus": (
        "user", "password_env", "token_env", "ca_bundle", "client_cert", "client_key",
        "verify", "timeout", "retries", "service_labels",
    ),
    "elasticsearch": (
        "user", "password_env", "api_key_env", "token_env", "ca_bundle", "client_cert",
        "client_key", "verify", "timeout", "retries", "page_size", "allow_partial", "mapping",
    ),
    "jaeger": ("user", "password_env", "token_env", "ca_bundle", "verify", "timeout", "retries",
               "api"),
}  # fmt: skip
_RENAMED = {"user": "username"}
# Never sent to a URL other than the settings' own.
_PRIVATE_KEYS = frozenset(
    {"user", "password_env", "token_env", "api_key_env", "client_cert", "client_key"}
)


def places() -> list[Path]:
    """Return where the settings file is looked for when none is given, in order."""
    found = [Path.cwd() / CONFIG_FILE, Path(platformdirs.user_config_dir(APP_NAME)) / CONFIG_FILE]
    if os.environ.get(CONFIG_ENV):
        found.insert(0, Path(os.environ[CONFIG_ENV]).expanduser())
    return found


def find(config: str | Path | None = None) -> Path | None:
    """Return the settings file: ``config``, else the first of :func:`places` that exists."""
    if config is not None:
        path = Path(config).expanduser()
        if not path.is_file():
            raise SettingsError(f"the settings file {path} does not exist (from --config)")
        return path
    variable = os.environ.get(CONFIG_ENV)
    if variable:
        path = Path(variable).expanduser()
        if not path.is_file():
            raise SettingsError(f"the settings file {path} does not exist (from ${CONFIG_ENV})")
        return path
    return next((p for p in places() if p.is_file()), None)


def load(
    config: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    profile: str | None = None,
) -> Settings:
    """Return the settings in effect: the file found (see :func:`find`) and the environment.

    ``environ`` is where ``MANCEROPS_<SECTION>_<KEY>`` overrides are read (default:
    ``os.environ``). Secrets are always read from ``os.environ`` when a source is built,
    so no mapping holding them is kept.
    """
    path = find(config)
    environ = os.environ if environ is None else environ
    if path is None:
        return from_document({}, environ=environ, searched=tuple(places()), profile=profile)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SettingsError(f"cannot read the settings file {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"the settings file {path} is not UTF-8 text") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"the settings file {path} is not valid TOML: {error}") from None
    return from_document(document, text=text, path=path, environ=environ, profile=profile)


def from_document(
    document: Mapping[str, Any],
    *,
    text: str = "",
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    searched: tuple[Path, ...] = (),
    profile: str | None = None,
) -> Settings:
    """Return the settings of a parsed TOML document, checked key by key.

    ``profile`` (default: ``$MANCEROPS_PROFILE``) picks a ``[profiles.NAME]`` table: each
    section it holds replaces the top-level section of that name as a whole.
    """
    environ = os.environ if environ is None else environ
    name = str(path) if path is not None else "the settings"
    lines = _key_lines(text)

    def at(*key: str | int) -> str:
        for depth in range(len(key), 0, -1):
            if key[:depth] in lines:
                return f"{name}:{lines[key[:depth]]}"
        return name

    unknown = sorted(set(document) - set(_SECTIONS) - {_HOSTS, _PROFILES})
    if unknown:
        raise SettingsError(
            f"{at(unknown[0])}: unknown section or key {unknown[0]!r}; known sections: "
            f"{', '.join(sorted([*_SECTIONS, _HOSTS, _PROFILES]))} (see {DOCS})"
        )
    profiles = _profiles(document.get(_PROFILES, {}), at)
    profile = profile or environ.get(PROFILE_ENV) or None
    if profile is not None and profile not in profiles:
        raise SettingsError(
            f"no profile {profile!r} in {name}; its profiles: "
            f"{', '.join(sorted(profiles)) or 'none'} (add a [profiles.{profile}.prometheus] "
            "table, or choose another)"
        )
    origins: dict[str, str] = {}
    sections: dict[str, Any] = {}
    chosen = profiles.get(profile, {}) if profile is not None else {}
    for section, kind in _SECTIONS.items():
        where = f"{_PROFILES}.{profile}.{section}" if section in chosen else section
        table = chosen[section] if section in chosen else document.get(section, {})
        if not isinstance(table, dict):
            raise SettingsError(f"{at(where)}: {where} must be a table, [{where}]")
        _check_keys(table, kind, f"[{where}]", lambda key, w=where: at(w, key))
        for key in table:
            origins[f"{section}.{key}"] = at(where, key)
        if section in document or section in chosen:
            origins[section] = at(where)
        table = dict(table)
        for key in _fields(kind):
            variable = f"{ENV_PREFIX}{section}_{key}".upper()
            if environ.get(variable, "") != "":
                table[key] = environ[variable]
                origins[f"{section}.{key}"] = f"env {variable}"
        value = _convert(table, kind, where, lambda key, s=section: origins.get(f"{s}.{key}"))
        sections[section] = _with_paths(value, path, origins, section)
    hosts = _hosts(document.get(_HOSTS, []), at)
    for number, _host in enumerate(hosts):
        origins[f"hosts.{number}"] = at(_HOSTS, number)
    return Settings(
        **sections,
        hosts=hosts,
        profile=profile,
        profile_sections=tuple(chosen),
        path=path,
        searched=searched,
        origins=origins,
    )


def _profiles(tables: Any, at) -> dict[str, dict[str, Any]]:
    """Return the ``[profiles.NAME]`` tables, each checked (an unused one too)."""
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise SettingsError(f"{at(_PROFILES)}: profiles are tables: [profiles.NAME.prometheus]")
    for profile, table in tables.items():
        for section in table:
            where = f"{_PROFILES}.{profile}.{section}"
            if section not in _PROFILE_SECTIONS:
                raise SettingsError(
                    f"{at(where)}: [profiles.{profile}] cannot hold {section!r}; a profile "
                    f"holds: {', '.join(_PROFILE_SECTIONS)}"
                )
            if not isinstance(table[section], dict):
                raise SettingsError(f"{at(where)}: {where} must be a table, [{where}]")
            kind = _SECTIONS[section]
            _check_keys(table[section], kind, f"[{where}]", lambda key, w=where: at(w, key))
            _convert(table[section], kind, where, lambda key, w=where: at(w, key))
    return tables


def _check_keys(table: Mapping[str, Any], kind: type, title: str, at) -> None:
    known = _fields(kind)
    for key in table:
        if key in known:
            continue
        if key in _SECRET_KEYS and _SECRET_KEYS[key] in known:
            raise SettingsError(
                f"{at(key)}: {title} {key} would write a secret in the file; put it in an "
                f'environment variable and name that instead: {_SECRET_KEYS[key]} = "VARIABLE"'
            )
        raise SettingsError(
            f"{at(key)}: unknown setting {key!r} in {title}; known: {', '.join(sorted(known))}"
        )


def _convert(table: dict[str, Any], kind: type, section: str, at) -> Any:
    # ``section`` is the table's dotted name, e.g. "prometheus" or "profiles.staging.jaeger"
    """Return ``table`` as a ``kind``, saying which key has the wrong type and where."""
    try:
        # strict=False reads "30" and "true" from environment variables as numbers and flags.
        value = msgspec.convert(table, kind, strict=False)
    except msgspec.ValidationError as error:
        said = str(error)
        match = _MSGSPEC_PATH.search(said)
        key = match.group(1).split(".")[0] if match else ""
        reason = _MSGSPEC_PATH.sub("", said).replace("`", "").replace(" | null", "")
        reason = reason[:1].lower() + reason[1:]
        raise SettingsError(f"{at(key) or section}: [{section}] {key}: {reason}") from None
    url = getattr(value, "url", None)
    if url is not None:
        _check_url(url, section, at("url") or section)
    api = getattr(value, "api", None)
    if api is not None and api not in ("auto", "v1", "v3"):
        raise SettingsError(f"{at('api')}: [{section}] api must be auto, v1 or v3, not {api!r}")
    return value


def _check_url(url: str, section: str, where: str) -> None:
    try:
        parsed = httpx.URL(url.strip())
    except Exception:
        raise SettingsError(f"{where}: [{section}] url is not a URL") from None
    if parsed.password:
        raise SettingsError(
            f"{where}: [{section}] url holds a password; keep secrets out of the file: "
            f'set user = "..." and name the variable holding the password with password_env'
        )
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise SettingsError(
            f"{where}: [{section}] url {url!r} is not an http(s) URL; write e.g. "
            "http://127.0.0.1:9090"
        )


def _with_paths(value: Any, path: Path | None, origins: Mapping[str, str], section: str) -> Any:
    """Return ``value`` with its paths expanded; a file's relative ones are read from its folder."""
    changes = {}
    for key in _PATH_KEYS & set(_fields(type(value))):
        given = getattr(value, key)
        if given is None:
            continue
        where = Path(given).expanduser()
        from_file = not origins.get(f"{section}.{key}", "").startswith("env ")
        if not where.is_absolute() and from_file and path is not None:
            where = path.parent / where
        changes[key] = str(where)
    return dataclasses.replace(value, **changes) if changes else value


def _hosts(tables: Any, at) -> tuple[Any, ...]:
    if not tables:
        return ()
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise SettingsError(f"{at(_HOSTS)}: hosts must be [[hosts]] tables")
    from workbench.sources.mancer import Host

    known = _fields(Host)
    hosts = []
    for number, table in enumerate(tables):
        for key in table:
            if key not in known:
                raise SettingsError(
                    f"{at(_HOSTS, number, key)}: unknown setting {key!r} in [[hosts]] "
                    f"number {number + 1}; known: {', '.join(sorted(known))}"
                )
        hosts.append(Host.from_dict(table, where=at(_HOSTS, number)))
    return tuple(hosts)


def _host_dict(host: Any) -> dict[str, Any]:
    values = dataclasses.asdict(host)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items() if v}


def _fields(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind))


def _same_url(given: str, configured: str | None) -> bool:
    if configured is None:
        return False
    return given.strip().rstrip("/") == configured.strip().rstrip("/")


def _toml(value: Any) -> str:
    """Return a value as TOML (strings in JSON's escaping, which TOML basic strings share)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value), ensure_ascii=False)


def _key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Return the line (1-based) of each table header and key of a TOML text.

    Enough to point at a setting in an error; keys inside multi-line strings or inline
    tables are not told apart, and only bare top-level table names are tracked.
    """
    lines: dict[tuple[str | int, ...], int] = {}
    table: tuple[str | int, ...] = ()
    counts: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            name = header.group(2).strip().strip("\"'")
            if header.group(1) == "[[":
                index = counts[name] = counts.get(name, -1) + 1
                table = (name, index)
                lines.setdefault((name,), number)
            else:
                table = (name,)
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault((*table, key.group(1).strip("\"'")), number)
    return lines
