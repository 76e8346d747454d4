"""The one settings object, read once from the environment at start-up.

Nothing else in the code base reads ``os.environ``. Every problem with a value stops start-up
with one sentence that names the variable (``SettingsError``), and secrets never appear in
``repr`` so they cannot leak into a log line by accident.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from backend.config.database_tls import SETTINGS as TLS_SETTINGS
from backend.config.database_tls import with_tls

DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org/bot"
DEFAULT_REGIONS_FILE = Path(__file__).resolve().parents[2] / "deploy" / "regions.example.toml"
# PTB accepts any token and puts it into the URL path (<base_url><token>/<method>); a test or
# self-hosted Bot API server may use tokens like "test-token". Refuse only what breaks the URL.
_TOKEN_BREAKS_URL = re.compile(r"[\s/?#%]")
_DB_SCHEMES = ("postgresql", "postgres", "cockroachdb")
ROLES = ("api", "bot", "scheduler", "sender")  # what one process does; "all" is every role
# Whoever knows the webhook secret can post forged updates (any citizen's answers). Telegram
# takes 1 to 256 of these characters; 32 random ones are out of reach of guessing.
WEBHOOK_SECRET_MIN_LENGTH = 32
# Placeholders the repository's examples show (deploy/k8s/secret.example.yaml): copied as they
# are, they would be a secret everybody knows.
PLACEHOLDER_WEBHOOK_SECRETS = frozenset({"replace-with-32-or-more-random-letters-digits-_-"})

log = logging.getLogger(__name__)


def parse_roles(value: str, name: str = "DIARY_ROLE") -> frozenset[str]:
    """``all``, or a comma-separated combination of ``api``, ``bot``, ``scheduler``, ``sender``."""
    parts = {part.strip() for part in value.split(",") if part.strip()}
    if parts == {"all"}:
        return frozenset(ROLES)
    unknown = sorted(parts - set(ROLES))
    if not parts or unknown:
        raise SettingsError(
            f"{name} must be 'all' or a comma-separated list of {', '.join(ROLES)}"
            + (f", not {unknown[0]!r}." if unknown else ".")
        )
    return frozenset(parts)


class SettingsError(ValueError):
    """A setting is missing or invalid; the message is one sentence naming the variable."""


def host_problem(host: str, error: OSError, name: str = "DIARY_HTTP_HOST") -> str | None:
    """The sentence for a listening error caused by the host setting ``name``, if it was the
    host."""
    if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
        return (
            f"{name} {host!r} is not an address of this machine "
            f"({error.strerror}); use e.g. 127.0.0.1 or 0.0.0.0."
        )
    return None


@dataclass(frozen=True)
class Settings:
    database_url: str | None = field(default=None, repr=False)
    data_dir: Path = Path("var")
    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # The sandbox's chat page and JSON API read every chat: loopback, whatever DIARY_HTTP_HOST
    # says (0.0.0.0 in the container image), unless DIARY_SANDBOX_HOST names another address.
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8081
    # Set explicitly: a taken port stops start-up; the default falls back to a free port.
    sandbox_port_explicit: bool = False
    # Sandbox mode with a database on another machine: most likely the real database with
    # the token forgotten, so refused unless allowed (a compose trial's own database container).
    sandbox_allow_external_database: bool = False
    # The embedded PostgreSQL is for trying out; a service listening beyond loopback is
    # meant for others, who should not entrust data to it, unless allowed (a container trial).
    embedded_database_allow_non_loopback: bool = False
    regions_file: Path = DEFAULT_REGIONS_FILE
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one JSON object per line
    roles: frozenset[str] = frozenset(ROLES)
    # How often an idle sender looks for messages that another instance wrote (its own are
    # signalled at once): bounds an alert's extra latency when receivers and sender are apart.
    sender_poll_seconds: float = 0.5
    # Sender and poller leases: a successor takes over within this long of an instance dying.
    lease_seconds: float = 20.0
    send_rate: float = 30.0  # messages per second overall
    paid_broadcast: bool = False  # allow_paid_broadcast: up to 1000/s, paid per message
    round_grace_minutes: int = 120  # a round missed by downtime is sent this much later at most
    regions_reload_seconds: int = 60  # how often the regions file is checked for changes
    trusted_proxy_hops: int = 0  # proxies in front of the API that append to X-Forwarded-For
    console_idle_minutes: int = 30  # a console session ends after this long without a request
    console_session_hours: int = 12  # and this long after signing in, at the latest
    # Connections to the database per process. Updates are processed concurrently, so with a
    # database a few milliseconds away more connections carry more answers (benchmark 8).
    database_pool_size: int = 10
    # One Fernet key a line (the first encrypts, all decrypt) for the console's TOTP secrets
    # at rest; None: a key file made once in data_dir (backend/services/totp_secrets.py).
    totp_key_file: Path | None = None

    @property
    def sandbox(self) -> bool:
        """Without a Telegram token the bot talks to the built-in loopback Bot API server."""
        return self.telegram_token is None

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def webhook_mode(self) -> bool:
        return self.webhook_url is not None

    def embedded_database_problem(self) -> str | None:
        """The sentence refusing the embedded database for a service listening beyond
        loopback, unless allowed."""
        if (
            not self.embedded_database
            or is_loopback(self.http_host)
            or self.embedded_database_allow_non_loopback
        ):
            return None
        return (
            f"DIARY_HTTP_HOST {self.http_host} is not a loopback address, and without "
            "DIARY_DATABASE_URL the data would go to the embedded PostgreSQL, which is for "
            "trying out, not for real data: set DIARY_DATABASE_URL, or "
            "DIARY_EMBEDDED_DATABASE_ALLOW_NON_LOOPBACK=true for a trial (e.g. in a container)."
        )

    def sandbox_database_problem(self) -> str | None:
        """The sentence refusing sandbox mode on a database on another machine, unless
        allowed (only where the sandbox is started: ``migrate`` needs no token)."""
        if (
            not self.sandbox
            or self.sandbox_allow_external_database
            or database_on_this_machine(self.database_url)
        ):
            return None
        return (
            "DIARY_TELEGRAM_TOKEN is not set, so the bot would run in sandbox mode, whose chat "
            "page shows every chat, on a database that DIARY_DATABASE_URL does not name by a "
            "loopback address or Unix socket: set DIARY_TELEGRAM_TOKEN, or "
            "DIARY_SANDBOX_ALLOW_EXTERNAL_DATABASE=true if that database holds no real data."
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build the settings from an environment mapping (normally ``os.environ``)."""
        env = _Env(environ)
        webhook_url = env.url("DIARY_WEBHOOK_URL", schemes=("https", "http"))
        webhook_secret = env.secret("DIARY_WEBHOOK_SECRET")
        if webhook_url and not webhook_secret:
            raise SettingsError(
                "DIARY_WEBHOOK_SECRET must be set when DIARY_WEBHOOK_URL is set, so that "
                "forged updates can be refused."
            )
        if webhook_secret is not None:
            _check_webhook_secret(webhook_secret)
        token = env.secret("DIARY_TELEGRAM_TOKEN")
        if token is not None and _TOKEN_BREAKS_URL.search(token):
            # Never echo the token, not even a wrong one: it may be nearly right.
            raise SettingsError(
                "DIARY_TELEGRAM_TOKEN must not contain whitespace, /, ?, # or %: the token "
                "becomes part of every Bot API URL."
            )
        api_url = env.url(
            "DIARY_TELEGRAM_API_URL", schemes=("http", "https"), default=DEFAULT_TELEGRAM_API_URL
        )
        if not urlsplit(api_url).path.endswith("/bot"):
            log.warning(
                "DIARY_TELEGRAM_API_URL does not end in /bot: the token is appended to it "
                "directly (%s<token>/getMe), which Bot API servers usually do not answer",
                api_url,
            )
        paid = env.flag("DIARY_PAID_BROADCAST")
        # Telegram: about 30 messages/s for free, up to 1000/s with paid broadcasts.
        send_rate = env.number("DIARY_SEND_RATE", 1000 if paid else 30, 1, 1000 if paid else 30)
        regions_file = env.path("DIARY_REGIONS_FILE", DEFAULT_REGIONS_FILE)
        if not regions_file.is_file():
            raise SettingsError(
                f"DIARY_REGIONS_FILE points to {regions_file}, which is not a file."
            )
        return cls(
            database_url=env.database_url("DIARY_DATABASE_URL"),
            data_dir=env.path("DIARY_DATA_DIR", Path("var")),
            telegram_token=token,
            telegram_api_url=api_url,
            http_host=env.text("DIARY_HTTP_HOST", "127.0.0.1"),
            http_port=env.port("DIARY_HTTP_PORT", 8080),
            sandbox_host=env.text("DIARY_SANDBOX_HOST", "127.0.0.1"),
            sandbox_port=env.port("DIARY_SANDBOX_PORT", 8081),
            sandbox_port_explicit=env.raw("DIARY_SANDBOX_PORT") is not None,
            sandbox_allow_external_database=env.flag("DIARY_SANDBOX_ALLOW_EXTERNAL_DATABASE"),
            embedded_database_allow_non_loopback=env.flag(
                "DIARY_EMBEDDED_DATABASE_ALLOW_NON_LOOPBACK"
            ),
            regions_file=regions_file,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            log_level=env.choice(
                "DIARY_LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", upper=True
            ),
            log_format=env.choice("DIARY_LOG_FORMAT", ("text", "json"), "text"),
            roles=parse_roles(env.text("DIARY_ROLE", "all")),
            send_rate=send_rate,
            paid_broadcast=paid,
            round_grace_minutes=env.number("DIARY_ROUND_GRACE_MINUTES", 120, 1, 24 * 60),
            regions_reload_seconds=env.number("DIARY_REGIONS_RELOAD_SECONDS", 60, 0, 24 * 3600),
            lease_seconds=env.number("DIARY_LEASE_SECONDS", 20, 2, 300),
            trusted_proxy_hops=env.number("DIARY_TRUSTED_PROXY_HOPS", 0, 0, 5),
            console_idle_minutes=env.number("DIARY_CONSOLE_IDLE_MINUTES", 30, 5, 8 * 60),
            console_session_hours=env.number("DIARY_CONSOLE_SESSION_HOURS", 12, 1, 24),
            database_pool_size=env.number("DIARY_DATABASE_POOL_SIZE", 10, 2, 100),
            totp_key_file=env.optional_path("DIARY_TOTP_KEY_FILE"),
        )


class _Env:
    """Typed access to the environment; each parser names its variable in its error."""

    def __init__(self, environ: Mapping[str, str]):
        self._environ = environ

    def raw(self, name: str) -> str | None:
        value = self._environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def secret(self, name: str) -> str | None:
        """A secret from ``NAME`` or from the file named by ``NAME_FILE`` (not both)."""
        direct, file_name = self.raw(name), self.raw(f"{name}_FILE")
        if direct and file_name:
            raise SettingsError(f"Set either {name} or {name}_FILE, not both.")
        if file_name is None:
            return direct
        try:
            value = Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(
                f"{name}_FILE names {file_name}, which cannot be read ({exc.strerror})."
            ) from None
        if not value:
            raise SettingsError(f"{name}_FILE names {file_name}, which is empty.")
        return value

    def path(self, name: str, default: Path) -> Path:
        value = self.raw(name)
        return Path(value) if value else default

    def optional_path(self, name: str) -> Path | None:
        value = self.raw(name)
        return Path(value) if value else None

    def port(self, name: str, default: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        if not value.isdigit() or not 0 <= int(value) <= 65535:
            raise SettingsError(f"{name} must be a port number from 0 to 65535, not {value!r}.")
        return int(value)

    def number(self, name: str, default: int, low: int, high: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        if not value.isdigit() or not low <= int(value) <= high:
            raise SettingsError(
                f"{name} must be a whole number from {low} to {high}, not {value!r}."
            )
        return int(value)

    def flag(self, name: str) -> bool:
        value = (self.raw(name) or "false").lower()
        if value not in ("true", "false", "1", "0", "yes", "no"):
            raise SettingsError(f"{name} must be true or false, not {value!r}.")
        return value in ("true", "1", "yes")

    def choice(self, name: str, options: tuple[str, ...], default: str, upper: bool = False) -> str:
        value = self.raw(name)
        if value is None:
            return default
        value = value.upper() if upper else value
        if value not in options:
            raise SettingsError(f"{name} must be one of {', '.join(options)}, not {value!r}.")
        return value

    def url(
        self,
        name: str,
        schemes: tuple[str, ...],
        default: str | None = None,
    ) -> str | None:
        value = self.raw(name)
        if value is None:
            return default
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            raise SettingsError(
                f"{name} must be an absolute {' or '.join(schemes)} URL, not {value!r}."
            )
        return value

    def database_url(self, name: str) -> str | None:
        value = self.secret(name)
        tls = {param: self.raw(setting) for param, setting in TLS_SETTINGS.items()}
        if value is None:
            if any(tls.values()):
                raise SettingsError(
                    "DIARY_DATABASE_SSL* settings need DIARY_DATABASE_URL (the embedded "
                    "database needs no TLS)."
                )
            return None
        try:
            parts = urlsplit(value)
            _check_hosts(parts.netloc)
        except ValueError:
            # Never echo the value: it may hold a password.
            raise SettingsError(
                f"{name} is not a valid URL (check the host, brackets and port)."
            ) from None
        if parts.scheme not in _DB_SCHEMES:
            # The URL may contain a password: name the scheme only, never echo the value.
            raise SettingsError(
                f"{name} must start with postgresql://, postgres:// or cockroachdb:// "
                f"(got a URL with scheme {parts.scheme!r})."
            )
        return with_tls(value, tls, SettingsError)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1); not 0.0.0.0, which is every
    address of the machine, nor a name that DNS might resolve anywhere."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def database_on_this_machine(url: str | None) -> bool:
    """Whether every host a database URL names (several for a cluster, ``host=`` in the
    query) is a Unix socket or a loopback address. The embedded database (no URL) is. A URL
    naming no host at all is not: libpq's PGHOST may then send it anywhere."""
    if url is None:
        return True
    parts = urlsplit(url)
    hosts = [
        unquote(urlsplit(f"//{host}").hostname or "")
        for host in parts.netloc.rpartition("@")[2].split(",")
    ]
    for value in parse_qs(parts.query).get("host", []):
        hosts.extend(value.split(","))
    hosts = [host for host in hosts if host]
    return bool(hosts) and all(host.startswith("/") or is_loopback(host) for host in hosts)


def _check_webhook_secret(value: str) -> None:
    """Never echoes the value: a near miss would give most of it away."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value):
        raise SettingsError(
            "DIARY_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and - (up to 256 characters)."
        )
    if len(value) < WEBHOOK_SECRET_MIN_LENGTH:
        raise SettingsError(
            f"DIARY_WEBHOOK_SECRET must be at least {WEBHOOK_SECRET_MIN_LENGTH} characters long "
            f"(it has {len(value)}); generate one, e.g. with `openssl rand -hex 24`."
        )
    if value.lower() in PLACEHOLDER_WEBHOOK_SECRETS or value.lower().startswith("replace-with"):
        raise SettingsError(
            "DIARY_WEBHOOK_SECRET is the placeholder from the deployment examples; generate a "
            "random one, e.g. with `openssl rand -hex 24`."
        )


def _check_hosts(netloc: str) -> None:
    """Every host of a URL, one or several (``h1:5432,h2:5432``: a high-availability cluster,
    where asyncpg tries each in turn and ``target_session_attrs`` picks the primary); raises
    ValueError for a port out of range or a bracket left open."""
    hosts = netloc.rpartition("@")[2]
    for host in hosts.split(","):
        urlsplit(f"//{host}").port  # noqa: B018 - parsed on access
