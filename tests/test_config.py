"""Settings from the environment and the regions file: good values work, bad ones stop start-up
with one sentence naming the variable, region and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.config.regions import RegionsFileError, load_regions
from backend.config.settings import (
    DEFAULT_REGIONS_FILE,
    DEFAULT_TELEGRAM_API_URL,
    Settings,
    SettingsError,
    database_on_this_machine,
)


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.embedded_database and settings.sandbox and not settings.webhook_mode
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.telegram_api_url == DEFAULT_TELEGRAM_API_URL
    assert settings.data_dir == Path("var")
    assert settings.regions_file == DEFAULT_REGIONS_FILE


def test_values_and_secret_files(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("123456:ABC-def_ghi\n")
    settings = Settings.from_env(
        {
            "DIARY_DATABASE_URL": "cockroachdb://diary@db:26257/diary?sslmode=verify-full",
            "DIARY_TELEGRAM_TOKEN_FILE": str(token_file),
            "DIARY_TELEGRAM_API_URL": "http://127.0.0.1:8081/bot",
            "DIARY_HTTP_PORT": "9000",
            "DIARY_WEBHOOK_URL": "https://diary.example/telegram",
            "DIARY_WEBHOOK_SECRET": "s3cret-value-of-at-least-32-chars",
        }
    )
    assert settings.telegram_token == "123456:ABC-def_ghi"
    assert settings.http_port == 9000 and settings.webhook_mode and not settings.sandbox
    # Secrets never show up in a repr (and so not in a log line by accident).
    assert "ABC-def" not in repr(settings) and "s3cret" not in repr(settings)
    assert "diary@db" not in repr(settings)


DB = "postgresql://diary:pw@db.example:5432/diary"


def test_a_cluster_is_named_by_all_its_hosts() -> None:
    """A high-availability cluster (deploy/ha): asyncpg tries each host, and
    target_session_attrs=read-write keeps the one that is the primary now."""
    url = "postgresql://diary:pw@10.0.0.1:5432,10.0.0.2:5432,[fd00::3]:5432/diary"
    url += "?target_session_attrs=read-write"
    assert Settings.from_env({"DIARY_DATABASE_URL": url}).database_url == url


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DIARY_HTTP_PORT": "eighty"}, "DIARY_HTTP_PORT"),
        ({"DIARY_HTTP_PORT": "70000"}, "DIARY_HTTP_PORT"),
        ({"DIARY_DATABASE_URL": "postgresql://u:secret@[bad/db"}, "DIARY_DATABASE_URL"),
        ({"DIARY_DATABASE_URL": "postgresql://u:secret@db:99999/db"}, "DIARY_DATABASE_URL"),
        ({"DIARY_DATABASE_URL": "postgresql://u:secret@a:5432,b:99999/db"}, "DIARY_DATABASE_URL"),
        ({"DIARY_DATABASE_URL": "mysql://u:pw@h/d"}, "DIARY_DATABASE_URL"),
        ({"DIARY_TELEGRAM_TOKEN": "123:abc/def"}, "DIARY_TELEGRAM_TOKEN"),
        ({"DIARY_TELEGRAM_TOKEN": "123:abc def"}, "DIARY_TELEGRAM_TOKEN"),
        ({"DIARY_TELEGRAM_TOKEN": "123:abc?x"}, "DIARY_TELEGRAM_TOKEN"),
        ({"DIARY_TELEGRAM_TOKEN": "123:abc#x"}, "DIARY_TELEGRAM_TOKEN"),
        ({"DIARY_TELEGRAM_TOKEN": "123:abc%2F"}, "DIARY_TELEGRAM_TOKEN"),
        ({"DIARY_TELEGRAM_API_URL": "ftp://x"}, "DIARY_TELEGRAM_API_URL"),
        ({"DIARY_WEBHOOK_URL": "https://x.example/hook"}, "DIARY_WEBHOOK_SECRET"),
        (
            {"DIARY_WEBHOOK_URL": "https://x.example/h", "DIARY_WEBHOOK_SECRET": "a b"},
            "DIARY_WEBHOOK_SECRET",
        ),
        (
            {"DIARY_WEBHOOK_URL": "https://x.example/h", "DIARY_WEBHOOK_SECRET": "x"},
            "DIARY_WEBHOOK_SECRET",
        ),
        ({"DIARY_WEBHOOK_SECRET": "A" * 31}, "DIARY_WEBHOOK_SECRET"),  # guessable
        # The placeholder of deploy/k8s/secret.example.yaml, copied as it is.
        (
            {"DIARY_WEBHOOK_SECRET": "replace-with-32-or-more-random-letters-digits-_-"},
            "DIARY_WEBHOOK_SECRET",
        ),
        ({"DIARY_REGIONS_FILE": "/nonexistent.toml"}, "DIARY_REGIONS_FILE"),
        ({"DIARY_TELEGRAM_TOKEN_FILE": "/nonexistent"}, "DIARY_TELEGRAM_TOKEN_FILE"),
        (
            {"DIARY_TELEGRAM_TOKEN": "1:a", "DIARY_TELEGRAM_TOKEN_FILE": "/x"},
            "DIARY_TELEGRAM_TOKEN",
        ),
        ({"DIARY_LOG_LEVEL": "loud"}, "DIARY_LOG_LEVEL"),
        ({"DIARY_LOG_FORMAT": "xml"}, "DIARY_LOG_FORMAT"),
        ({"DIARY_ROLE": "api,cook"}, "DIARY_ROLE"),
        ({"DIARY_ROLE": ","}, "DIARY_ROLE"),
        ({"DIARY_LEASE_SECONDS": "1"}, "DIARY_LEASE_SECONDS"),
        ({"DIARY_ROUND_GRACE_MINUTES": "0"}, "DIARY_ROUND_GRACE_MINUTES"),  # no round ever
        ({"DIARY_TRUSTED_PROXY_HOPS": "-1"}, "DIARY_TRUSTED_PROXY_HOPS"),
        ({"DIARY_DATABASE_SSLROOTCERT": "/ca.crt"}, "DIARY_DATABASE_URL"),
        (
            {"DIARY_DATABASE_URL": DB + "?sslrootcert=/x", "DIARY_DATABASE_SSLROOTCERT": "/x"},
            "DIARY_DATABASE_SSLROOTCERT",
        ),
        ({"DIARY_DATABASE_URL": DB + "?sslrootcert=/nonexistent/ca.crt"}, "sslrootcert"),
        ({"DIARY_DATABASE_URL": DB, "DIARY_DATABASE_SSLKEY": "/nonexistent/k"}, "sslkey"),
        ({"DIARY_DATABASE_URL": DB + "?sslrootcert=system"}, "sslrootcert"),
        ({"DIARY_DATABASE_URL": DB, "DIARY_DATABASE_SSLMODE": "strict"}, "sslmode"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)
    message = str(raised.value)
    assert named in message and message.endswith(".") and "\n" not in message
    assert "secret" not in message  # a database password is never echoed
    assert "pw@" not in message  # a database password is never echoed
    assert "abc" not in message  # nor a token


def test_a_webhook_secret_of_32_characters_is_enough() -> None:
    secret = "0123456789abcdef-0123456789ABCDE"
    assert len(secret) == 32
    assert Settings.from_env({"DIARY_WEBHOOK_SECRET": secret}).webhook_secret == secret


@pytest.mark.parametrize("token", ["test-token", "123456:ABC-def_ghi", "1:a.b~c:d"])
def test_tokens_are_taken_as_the_library_takes_them(token: str) -> None:
    """Any token that fits into a URL path: a test or self-hosted Bot API server may use its own
    format."""
    assert Settings.from_env({"DIARY_TELEGRAM_TOKEN": token}).telegram_token == token


def test_an_api_url_not_ending_in_bot_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    Settings.from_env({"DIARY_TELEGRAM_API_URL": "http://127.0.0.1:8081/bot"})
    assert "does not end in /bot" not in caplog.text
    settings = Settings.from_env({"DIARY_TELEGRAM_API_URL": "http://127.0.0.1:8081"})
    assert settings.telegram_api_url == "http://127.0.0.1:8081"  # a warning, not an error
    assert "DIARY_TELEGRAM_API_URL does not end in /bot" in caplog.text


def test_roles_and_database_tls_settings(tmp_path: Path) -> None:
    assert Settings.from_env({}).roles == {"api", "bot", "scheduler", "sender"}
    assert Settings.from_env({"DIARY_ROLE": "all"}).roles == {"api", "bot", "scheduler", "sender"}
    assert Settings.from_env({"DIARY_ROLE": " scheduler, sender"}).roles == {"scheduler", "sender"}
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    # A CA given means verify the server; the rest of the URL stays as written.
    url = Settings.from_env({"DIARY_DATABASE_URL": DB, "DIARY_DATABASE_SSLROOTCERT": str(ca)})
    assert url.database_url.startswith(DB + "?sslrootcert=")
    assert url.database_url.endswith("&sslmode=verify-full")
    plain = Settings.from_env({"DIARY_DATABASE_URL": DB + "?sslmode=require&application_name=x"})
    assert plain.database_url == DB + "?sslmode=require&application_name=x"


def test_example_regions_file() -> None:
    regions = load_regions(DEFAULT_REGIONS_FILE)
    german = [r for r in regions.values() if r.timezone == "Europe/Berlin"]
    elsewhere = [r for r in regions.values() if r.timezone != "Europe/Berlin"]
    assert len(german) == 3 and len(elsewhere) == 1
    for region in regions.values():
        assert region.languages and region.prompt_times == tuple(sorted(region.prompt_times))


GOOD = {
    "id": '"de-x"',
    "name": '"X"',
    "timezone": '"Europe/Berlin"',
    "languages": '["de"]',
    "prompt_times": '["09:00"]',
}


def region_table(**changes: str | None) -> str:
    """One [[regions]] table: GOOD with fields changed (a value) or left out (None)."""
    fields = {**GOOD, **changes}
    return "[[regions]]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items() if v is not None)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            region_table(timezone='"Europe/Berln"'),
            "region 'de-x', field 'timezone': unknown IANA time zone 'Europe/Berln'",
        ),
        (region_table(prompt_times='["9 am"]'), "region 'de-x', field 'prompt_times'"),
        (region_table(languages='["xx"]'), "field 'languages': language 'xx' has no catalog"),
        (region_table(id='"DE X"'), "region 'DE X', field 'id'"),
        (region_table(name=None), "field 'name': Field required"),
        (region_table(colour="1"), "field 'colour'"),
        ("regions = 3\n", "needs at least one [[regions]] table"),
        ("[[regions\n", "is not valid TOML"),
    ],
)
def test_bad_regions_files_name_region_and_field(tmp_path: Path, body: str, expected: str) -> None:
    path = tmp_path / "regions.toml"
    path.write_text(body)
    with pytest.raises(RegionsFileError) as raised:
        load_regions(path)
    assert expected in str(raised.value)


def test_duplicate_region(tmp_path: Path) -> None:
    path = tmp_path / "regions.toml"
    path.write_text(region_table() + region_table())
    with pytest.raises(RegionsFileError, match="defined twice"):
        load_regions(path)


@pytest.mark.parametrize(
    ("url", "here"),
    [
        (None, True),  # the embedded database, on its Unix socket
        ("postgresql://u@localhost/db", True),
        ("postgresql://u:pw@127.0.0.1:5432/db", True),
        ("postgresql://u@[::1]:5432/db", True),
        ("postgresql://u@/db?host=%2Ftmp%2Fpg", True),  # as the embedded server's URL says it
        ("postgresql://u@%2Fvar%2Frun%2Fpostgresql/db", True),
        ("postgresql://u@127.0.0.1:5432,localhost:5433/db", True),
        ("postgresql://u@db.example:5432/db", False),
        ("postgresql://u@0.0.0.0:5432/db", False),
        ("postgresql://u@127.0.0.1,10.0.0.2/db", False),  # one member elsewhere is enough
        ("postgresql://u@localhost/db?host=db.example", False),
        ("postgresql://u@/db", False),  # PGHOST decides: may be anywhere
    ],
)
def test_which_databases_are_on_this_machine(url: str | None, here: bool) -> None:
    assert database_on_this_machine(url) is here


def test_the_sandbox_listens_on_loopback_unless_told_otherwise() -> None:
    assert Settings.from_env({"DIARY_HTTP_HOST": "0.0.0.0"}).sandbox_host == "127.0.0.1"
    assert Settings.from_env({"DIARY_SANDBOX_HOST": "0.0.0.0"}).sandbox_host == "0.0.0.0"
