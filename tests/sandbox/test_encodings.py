"""Parameters arrive as query string, form, JSON or multipart and are decoded the same way."""

from __future__ import annotations

import json

import aiohttp
import pytest

from bot.sandbox import SandboxBotApi

MARKUP = {"inline_keyboard": [[{"text": "Well", "callback_data": "well"}]]}
EXPECTED_PARAMS = {
    "chat_id": 1001,
    "text": "Hallo <b>Ada</b>",
    "parse_mode": "HTML",
    "reply_markup": MARKUP,
    "disable_notification": True,
}


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


def url(server: SandboxBotApi, method: str) -> str:
    return f"{server.base_url}{server.token}/{method}"


async def check_sent(server: SandboxBotApi, response: aiohttp.ClientResponse) -> None:
    body = await response.json()
    assert response.status == 200, body
    assert body["ok"] is True
    assert body["result"]["text"] == "Hallo Ada"
    assert body["result"]["reply_markup"] == MARKUP
    assert server.calls[-1] == ("sendMessage", EXPECTED_PARAMS)


async def test_form_urlencoded_like_ptb(server: SandboxBotApi, session) -> None:
    server.user(1001, "Ada")
    form = {
        "chat_id": "1001",
        "text": "Hallo <b>Ada</b>",
        "parse_mode": "HTML",
        "reply_markup": json.dumps(MARKUP),
        "disable_notification": "true",
    }
    async with session.post(url(server, "sendMessage"), data=form) as response:
        await check_sent(server, response)


async def test_json_body(server: SandboxBotApi, session) -> None:
    server.user(1001, "Ada")
    async with session.post(url(server, "sendMessage"), json=EXPECTED_PARAMS) as response:
        await check_sent(server, response)


async def test_query_string_with_get(server: SandboxBotApi, session) -> None:
    server.user(1001, "Ada")
    query = {
        "chat_id": "1001",
        "text": "Hallo <b>Ada</b>",
        "parse_mode": "HTML",
        "reply_markup": json.dumps(MARKUP),
        "disable_notification": "1",
    }
    async with session.get(url(server, "sendMessage"), params=query) as response:
        await check_sent(server, response)


async def test_multipart_fields_and_file(server: SandboxBotApi, session) -> None:
    server.user(1001, "Ada")
    form = aiohttp.FormData()
    form.add_field("chat_id", "1001")
    form.add_field("caption", "Report")
    form.add_field("reply_markup", json.dumps(MARKUP))
    form.add_field(
        "document", b"%PDF-1.4 fake", filename="report.pdf", content_type="application/pdf"
    )
    async with session.post(url(server, "sendDocument"), data=form) as response:
        body = await response.json()
    assert body["ok"] is True
    document = body["result"]["document"]
    assert document["file_name"] == "report.pdf"
    assert document["mime_type"] == "application/pdf"
    assert document["file_size"] == 13
    assert server.calls[-1][1]["document"] == {
        "filename": "report.pdf",
        "content_type": "application/pdf",
        "size": 13,
    }
    assert server.calls[-1][1]["reply_markup"] == MARKUP


async def test_body_overrides_query(server: SandboxBotApi, session) -> None:
    server.user(1001, "Ada")
    async with session.post(
        url(server, "sendMessage"),
        params={"chat_id": "1001", "text": "query"},
        json={"text": "body"},
    ) as response:
        assert (await response.json())["result"]["text"] == "body"


@pytest.mark.parametrize(
    ("kwargs", "description"),
    [
        (
            {"data": "{not json", "headers": {"Content-Type": "application/json"}},
            "Bad Request: can't parse JSON object",
        ),
        ({"json": [1, 2]}, "Bad Request: JSON object expected"),
        (
            {"data": {"chat_id": "1001", "text": "x", "reply_markup": "{broken"}},
            "Bad Request: can't parse reply keyboard markup JSON object",
        ),
        ({"data": {"text": "x"}}, "Bad Request: chat_id is empty"),
        ({"data": {"chat_id": "@somechannel", "text": "x"}}, "Bad Request: chat not found"),
        (
            {"data": {"chat_id": "1001", "text": "x", "reply_to_message_id": "77"}},
            "Bad Request: message to be replied not found",
        ),
    ],
)
async def test_malformed_parameters_are_400(
    server: SandboxBotApi, session, kwargs: dict, description: str
) -> None:
    server.user(1001, "Ada")
    async with session.post(url(server, "sendMessage"), **kwargs) as response:
        assert response.status == 400
        assert await response.json() == {
            "ok": False,
            "error_code": 400,
            "description": description,
        }


async def test_malformed_multipart_is_400(server: SandboxBotApi, session) -> None:
    headers = {"Content-Type": "multipart/form-data; boundary=xyz"}
    async with session.post(url(server, "sendMessage"), data=b"garbage", headers=headers) as r:
        assert r.status == 400
        assert (await r.json())["description"] == "Bad Request: can't parse request body"
