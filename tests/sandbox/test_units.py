"""Unit tests of the pure parts: HTML formatting, rate limit windows, fault injection."""

from __future__ import annotations

import pytest
import telegram

from bot.sandbox import BotApiFault, RateLimits, SandboxBotApi, Window
from bot.sandbox.faults import FaultInjector
from bot.sandbox.formatting import parse_html, render, utf16_len
from bot.sandbox.limits import RateLimiter

from .conftest import FakeClock


def test_html_entities_and_nesting() -> None:
    text, entities = parse_html(
        '<b>bold <i>both</i></b> <pre><code class="language-py">x=1</code></pre>'
    )
    assert text == "bold both x=1"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 9},
        {"type": "italic", "offset": 5, "length": 4},
        {"type": "pre", "offset": 10, "length": 3, "language": "py"},
    ]


def test_html_char_refs_and_spoiler() -> None:
    text, entities = parse_html(
        '&lt;tag&gt; &quot;q&quot; &#228;&#x1F600; <span class="tg-spoiler">s</span> &nope;'
    )
    assert text == '<tag> "q" ä😀 s &nope;'
    assert entities == [{"type": "spoiler", "offset": 14, "length": 1}]
    assert utf16_len("ä😀") == 3


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("ä <b>x</i>", 'Unmatched end tag at byte offset 7, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_html_errors(html: str, error: str) -> None:
    with pytest.raises(BotApiFault) as caught:
        parse_html(html)
    assert caught.value.error_code == 400
    assert caught.value.description == f"Bad Request: can't parse entities: {error}"


def test_render_trims_whitespace_and_keeps_given_entities() -> None:
    assert render("  <b> hi </b>  ", "HTML", None) == (
        "hi",
        [{"type": "bold", "offset": 0, "length": 2}],
    )
    given = [{"type": "bold", "offset": 0, "length": 2}]
    assert render("hi", None, given) == ("hi", given)
    assert render("*hi*", "MarkdownV2", None) == ("*hi*", [])  # kept as sent, not interpreted
    with pytest.raises(BotApiFault, match="unsupported parse_mode"):
        render("x", "BBCode", None)


def test_limiter_groups_overall_and_paid_broadcast() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    for _ in range(20):
        assert limiter.acquire(-100, is_group=True) is None
        clock.advance(0.1)
    assert limiter.acquire(-100, is_group=True) == 58  # the first one leaves at t=60
    clock.advance(58)
    assert limiter.acquire(-100, is_group=True) is None

    limiter.reset()
    for chat in range(30):
        assert limiter.acquire(chat, is_group=False) is None
    assert limiter.acquire(99, is_group=False) == 1
    assert limiter.acquire(99, is_group=False, paid_broadcast=True) is None


async def test_two_quick_messages_with_strict_private_limit(
    server: SandboxBotApi, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PTB 22.8 reads RetryAfter.retry_after inside its own constructor, so without this opt-in
    # every 429 turns into a PTBDeprecationWarning (an error under filterwarnings=error).
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    server.limits = RateLimits(private_chat=(Window(1, 1.0),))
    server.enforce_limits = True
    server.user(1001, "Ada")
    async with telegram.Bot(server.token, base_url=server.base_url) as bot:
        await bot.send_message(1001, "one")
        with pytest.raises(telegram.error.RetryAfter):
            await bot.send_message(1001, "two")
        clock.advance(1.0)
        await bot.send_message(1001, "two")
    assert server.stats["429"] == 1


def test_fault_injector_matching() -> None:
    faults = FaultInjector()
    faults.add(method="sendMessage", error_code=403, chat_id=5, count=2)
    assert faults.take("sendMessage", {"chat_id": 6}) is None
    assert faults.take("editMessageText", {"chat_id": 5}) is None
    first = faults.take("SENDMESSAGE", {"chat_id": "5"})
    assert first is not None and first.to_json() == {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot was blocked by the user",
    }
    assert faults.take("sendMessage", {"chat_id": 5}) is not None
    assert faults.take("sendMessage", {"chat_id": 5}) is None
    with pytest.raises(ValueError):
        faults.add(method=None, error_code=500, count=0)
