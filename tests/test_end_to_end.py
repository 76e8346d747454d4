"""The whole path over real HTTP: a staff token from the CLI, a case registered through the API,
the citizen opening the deep link and answering the prompt through the loopback Bot API server
(the real python-telegram-bot on the other side), and the entry visible through the API."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from aiohttp.test_utils import TestClient

from bot.sandbox import SandboxBotApi
from tests.conftest import BOT_USERNAME
from tests.rounds import new_round


def has_button(action: str):
    def match(message: dict) -> bool:
        keyboard = message.get("reply_markup", {}).get("inline_keyboard", [])
        return any(
            b.get("callback_data", "").endswith(f":{action}") for row in keyboard for b in row
        )

    return match


def button_data(message: dict, action: str) -> str:
    for row in message["reply_markup"]["inline_keyboard"]:
        for button in row:
            if button["callback_data"].split(":")[2:3] == [action] or button[
                "callback_data"
            ].endswith(f":{action}"):
                return button["callback_data"]
    raise AssertionError(f"no {action} button in {message}")


async def cli(repo_root: Path, database_url: str, *args: str) -> str:
    """Run the real ``symptom-diary`` command against the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIARY_")}
    env["DIARY_DATABASE_URL"] = database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        *args,
        cwd=repo_root,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


async def test_register_activate_answer_and_read_back(
    service: TestClient, bot_api: SandboxBotApi, repo_root: Path, database_url: str
) -> None:
    output = await cli(
        repo_root,
        database_url,
        "staff",
        "create",
        "--name",
        "Erika",
        "--role",
        "staff",
        "--region",
        "de-berlin-mitte",
    )
    token = re.search(r"^(sd_\S+)$", output, re.MULTILINE).group(1)
    headers = {"Authorization": f"Bearer {token}"}

    response = await service.post(
        "/api/v1/cases",
        json={
            "region": "de-berlin-mitte",
            "kind": "contact",
            "quarantine_start": "2026-11-24",
            "quarantine_end": "2026-12-07",
            "language": "en",
        },
        headers=headers,
    )
    assert response.status == 201, await response.text()
    case = await response.json()
    link = urlsplit(case["deep_link"])
    assert (link.scheme, link.netloc, link.path) == ("https", "t.me", f"/{BOT_USERNAME}")
    code = parse_qs(link.query)["start"][0]

    citizen = bot_api.user(1001, "Ada", "en")
    await citizen.send_command("start", code)
    welcome = await citizen.wait_for_message()
    assert "Gesundheitsamt Berlin-Mitte" in welcome["text"]
    assert "24 November 2026" in welcome["text"] and "7 December 2026" in welcome["text"]
    assert "today at 18:00" in welcome["text"]  # 07:30 UTC = 08:30 in Berlin

    response = await service.post("/api/v1/regions/de-berlin-mitte/rounds", headers=headers)
    assert response.status == 202 and (await response.json())["prompts"] == 1
    prompt = await citizen.wait_for_message(has_button("well"))
    assert "Day 3 of 14" in prompt["text"] and "How are you today?" in prompt["text"]

    query = await citizen.press(prompt, button_data(prompt, "well"))
    summary = await citizen.wait_for_message(lambda m: m["message_id"] == prompt["message_id"])
    assert "You feel well" in summary["text"]
    assert "Next questions: today at 18:00" in summary["text"]
    assert has_button("correct")(summary)  # the answer can still be corrected
    assert (await citizen.wait_for_answer(query))["text"] == "Thank you!"

    response = await service.get(f"/api/v1/cases/{case['id']}/entries", headers=headers)
    entries = (await response.json())["entries"]
    assert len(entries) == 1
    assert entries[0]["feeling_well"] is True and entries[0]["local_date"] == "2026-11-26"
    response = await service.get(f"/api/v1/cases/{case['id']}", headers=headers)
    assert (await response.json())["status"] == "active"


async def test_symptoms_and_temperature(
    service: TestClient, bot_api: SandboxBotApi, repo_root: Path, database_url: str
) -> None:
    output = await cli(repo_root, database_url, "staff", "create", "--name", "A", "--role", "admin")
    headers = {"Authorization": f"Bearer {output.split()[-1]}"}
    response = await service.post(
        "/api/v1/cases",
        json={
            "region": "de-koeln",
            "kind": "index",
            "quarantine_start": "2026-11-26",
            "quarantine_end": "2026-12-05",
            "language": "en",
        },
        headers=headers,
    )
    case = await response.json()
    citizen = bot_api.user(2002, "Bo", "en")
    await citizen.send_command("start", parse_qs(urlsplit(case["deep_link"]).query)["start"][0])
    await citizen.wait_for_message()
    await new_round(service, "de-koeln")
    prompt = await citizen.wait_for_message(has_button("well"))

    await citizen.press_button(prompt, "I don't feel well")
    checklist = await citizen.wait_for_message(has_button("done"))
    await citizen.press_button(checklist, "Cough")
    checklist = await citizen.wait_for_message(lambda m: "✅ Cough" in str(m.get("reply_markup")))
    await citizen.press_button(checklist, "Fever")
    checklist = await citizen.wait_for_message(lambda m: "✅ Fever" in str(m.get("reply_markup")))
    await citizen.press_button(checklist, "Done")
    await citizen.wait_for_message(has_button("nomeas"))

    await citizen.send_text("hot")
    hint = await citizen.wait_for_message()
    assert "could not read that as a temperature" in hint["text"]
    await citizen.send_text("45")
    hint = await citizen.wait_for_message()
    assert "45.0 °C is unusual" in hint["text"]
    await citizen.send_text("101.3 F")
    trend = await citizen.wait_for_message(has_button("worse"))
    assert trend["message_id"] != prompt["message_id"]  # asked below the typed answer
    await citizen.press_button(trend, "Worse")
    note = await citizen.wait_for_message(has_button("skip"))
    assert "short note" in note["text"]
    await citizen.send_text("Kopfschmerzen seit gestern Abend")
    summary = await citizen.wait_for_message(has_button("send"))
    assert "Cough and Fever" in summary["text"] and "38.5 °C" in summary["text"]
    assert "Worse" in summary["text"] and "Kopfschmerzen" in summary["text"]
    query = await citizen.press_button(summary, "Send")
    assert (await citizen.wait_for_answer(query))["text"] == "Thank you!"
    done = await citizen.wait_for_message(lambda m: m["message_id"] == summary["message_id"])
    assert "Recorded" in done["text"]

    response = await service.get(f"/api/v1/cases/{case['id']}/entries", headers=headers)
    (entry,) = (await response.json())["entries"]
    assert entry["feeling_well"] is False
    assert entry["symptoms"] == ["cough", "fever"]
    assert entry["temperature_c"] == 38.5
    assert (entry["trend"], entry["note"]) == ("worse", "Kopfschmerzen seit gestern Abend")
    # The earlier question messages lost their buttons: only the current one can be pressed.
    first = next(m for m in citizen.messages if m["message_id"] == prompt["message_id"])
    assert "reply_markup" not in first
