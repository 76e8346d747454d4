"""TLS to the database, from the URL's libpq parameters or from settings.

asyncpg understands ``sslmode``, ``sslrootcert``, ``sslcert`` and ``sslkey`` in the URL. An
operator may instead set them as DIARY_DATABASE_SSL* (the URL then stays a plain secret and the
certificate paths live with the other settings); they are merged into the URL here. Either
way the files are checked at start-up, so a wrong path is one sentence naming it rather than
asyncpg's bare "No such file or directory" at the first connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
SETTINGS = {  # URL parameter → the setting that may give it instead
    "sslmode": "DIARY_DATABASE_SSLMODE",
    "sslrootcert": "DIARY_DATABASE_SSLROOTCERT",
    "sslcert": "DIARY_DATABASE_SSLCERT",
    "sslkey": "DIARY_DATABASE_SSLKEY",
}
_FILES = ("sslrootcert", "sslcert", "sslkey")


def with_tls(url: str, setting: Mapping[str, str | None], error: Callable[[str], Exception]) -> str:
    """``url`` with the TLS settings merged in and every TLS parameter checked.

    ``setting`` maps URL parameters to the values of their settings (None when unset);
    problems become ``error(sentence)``, a sentence that never contains the URL.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    given = {name for name, _ in query}
    added = []
    for name, value in setting.items():
        if value is None:
            continue
        if name in given:
            raise error(f"{SETTINGS[name]} is set and DIARY_DATABASE_URL has {name} too; use one.")
        added.append((name, value))
    values = dict(query + added)
    if values.get("sslrootcert") and "sslmode" not in values:
        # A CA given means the server is to be verified; asyncpg's default would not.
        added.append(("sslmode", "verify-full"))
        values["sslmode"] = "verify-full"
    mode = values.get("sslmode")
    if mode is not None and mode not in SSL_MODES:
        raise error(f"sslmode must be one of {', '.join(SSL_MODES)}, not {mode!r}.")
    for name in _FILES:
        _check_file(name, values.get(name), error)
    if not added:
        return url  # the operator's URL exactly as written
    return parts._replace(query=urlencode(query + added)).geturl()


def _check_file(name: str, path: str | None, error: Callable[[str], Exception]) -> None:
    if not path:
        return  # unset, or empty: explicitly none (asyncpg then skips its default locations)
    if path == "system":
        raise error(f"{name}=system is not supported by asyncpg; give the CA certificate's file.")
    try:
        Path(path).open("rb").close()
    except OSError as exc:
        raise error(f"{name} names {path}, which cannot be read ({exc.strerror}).") from None
