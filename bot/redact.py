"""Keeping the bot token out of log lines and error messages.

PTB puts the token into every request URL (``<base_url><token>/<method>``), and HTTP client
errors quote the URL, so any message built from such an error may carry the token. Whoever holds
the token controls the bot.
"""

from __future__ import annotations

from urllib.parse import quote

PLACEHOLDER = "<token>"


def redact(text: str, token: str | None) -> str:
    """``text`` with ``token`` (as given or percent-encoded, as a URL may show it) replaced by
    ``<token>``."""
    if not token:
        return text
    for form in {token, quote(token, safe=""), quote(token)}:
        text = text.replace(form, PLACEHOLDER)
    return text
