"""Fixtures: a sandbox server on loopback with a fake monotonic clock, and a real PTB Bot."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import telegram

from bot.sandbox import SandboxBotApi


class FakeClock:
    """A monotonic clock the test moves by hand, so rate limits are deterministic."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def server(clock: FakeClock) -> AsyncIterator[SandboxBotApi]:
    async with SandboxBotApi(
        token="123456:TEST-TOKEN", bot_username="SymptomDiarySandboxBot", clock=clock
    ) as api:
        yield api
        # Every test also checks that the sandbox itself never failed.
        assert api.internal_errors == []


@pytest.fixture
async def bot(server: SandboxBotApi) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(server.token, base_url=server.base_url) as ptb_bot:
        yield ptb_bot
