"""The citizen's side of the conversation, one transaction per Telegram update.

Each function records the update id, reads what it needs, applies the pure questionnaire rules
and writes the state change together with the replies to the outbox, all in one transaction:
a redelivered update changes nothing, a crash loses nothing, and a retried transaction has no
side effects to repeat. The bot layer only translates Telegram updates into these calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from backend.domain import questionnaire
from backend.domain.activation import hash_code, looks_like_code
from backend.domain.cases import Case
from backend.domain.messages import NO_REGION, Kind, Outgoing, Priority
from backend.domain.questionnaire import Answer, Draft, Outcome, Step
from backend.domain.symptoms import DEFAULT_SYMPTOMS
from backend.i18n import pick_language
from backend.services.context import ServiceContext
from backend.storage import cases as case_store
from backend.storage import entries as entry_store
from backend.storage import outbox as outbox_store
from backend.storage import prompts as prompt_store
from backend.storage.prompts import Prompt
from backend.storage.updates import claim_update

SYMPTOM_CODES = tuple(symptom.code for symptom in DEFAULT_SYMPTOMS)


@dataclass(frozen=True)
class ChatUpdate:
    """The plain facts of one Telegram update that the conversation needs."""

    key: str  # identifies the update for deduplication: see bot.handlers.update_key
    chat_id: int
    telegram_language: str | None = None


@dataclass
class _Replies:
    """Messages produced while handling one update, in order, keyed by the update id."""

    update: ChatUpdate
    language: str
    region: str = NO_REGION
    messages: list[Outgoing] = field(default_factory=list)

    def add(self, kind: Kind, **payload: Any) -> None:
        self.messages.append(
            Outgoing(
                chat_id=self.update.chat_id,
                kind=kind,
                language=self.language,
                priority=Priority.INTERACTIVE,
                dedup_key=f"update:{self.update.key}:{len(self.messages)}",
                payload=payload,
                region=self.region,
            )
        )

    def say(self, message: str, **params: Any) -> None:
        self.add(Kind.REPLY, message=message, params=params)

    def notice(self, query_id: str, notice: str | None = None) -> None:
        self.add(Kind.ANSWER_CALLBACK, query=query_id, notice=notice)


Handler = Callable[[asyncpg.Connection, list[Case], _Replies], Awaitable[None]]


async def _once(ctx: ServiceContext, update: ChatUpdate, handle: Handler) -> bool:
    """Run ``handle`` once per update id; False if the update was already processed."""

    async def body(conn: asyncpg.Connection) -> list[Outgoing] | None:
        if not await claim_update(conn, update.key):
            return None
        cases = await case_store.find_by_chat(conn, update.chat_id)
        if any(case.unreachable_at for case in cases):
            await case_store.mark_reachable(conn, update.chat_id)
        replies = _Replies(update, _language(ctx, cases, update))
        if cases:
            replies.region = cases[0].region
        await handle(conn, cases, replies)
        await outbox_store.enqueue(conn, replies.messages)
        return replies.messages

    messages = await ctx.db.transaction(body)
    if messages:
        ctx.outbox.notify()
    return messages is not None


def _language(ctx: ServiceContext, cases: list[Case], update: ChatUpdate) -> str:
    """Resolved once per update: the case's language, else Telegram's, else the source."""
    if cases:
        return cases[0].language
    return pick_language(ctx.languages, update.telegram_language)


def _next_prompt(ctx: ServiceContext, case: Case) -> str | None:
    region = ctx.regions.get(case.region)
    if region is None:
        return None
    return region.next_prompt_at(ctx.clock.now()).isoformat()


async def start(ctx: ServiceContext, update: ChatUpdate, payload: str | None) -> bool:
    """``/start [code]``: bind the chat to a case with a one-time code, or explain."""

    async def handle(conn: asyncpg.Connection, cases: list[Case], replies: _Replies) -> None:
        if not payload:
            if cases:
                replies.say("already_active", next=_next_prompt(ctx, cases[0]))
            else:
                replies.say("start_unregistered")
            return
        if not looks_like_code(payload):
            replies.say("code_invalid")
            return
        await _activate(ctx, conn, cases, replies, payload)

    return await _once(ctx, update, handle)


async def _activate(
    ctx: ServiceContext, conn: asyncpg.Connection, cases: list[Case], replies: _Replies, code: str
) -> None:
    now = ctx.clock.now()
    chat_id = replies.update.chat_id
    stored = await case_store.get_activation_code(conn, hash_code(code))
    if stored is None:
        replies.say("code_invalid")
        return
    if stored["used_at"] is not None:
        bound_here = stored["used_chat_id"] == chat_id
        replies.say("already_active" if bound_here else "code_used")
        return
    if stored["expires_at"] <= now:
        replies.say("code_expired")
        return
    used = await case_store.use_activation_code(conn, hash_code(code), chat_id, now)
    case = used and await case_store.bind_chat(conn, used[0], used[1], chat_id, now)
    if not case:
        replies.say("code_invalid")
        return
    region = ctx.regions.require(case.region)
    replies.language, replies.region = case.language, case.region
    replies.say(
        "welcome",
        authority=region.name,
        start=case.quarantine_start.isoformat(),
        end=case.quarantine_end.isoformat(),
        times=[t.strftime("%H:%M") for t in region.prompt_times],
        timezone=region.timezone,
        next=_next_prompt(ctx, case),
        household=len(cases),
    )


async def press(
    ctx: ServiceContext,
    update: ChatUpdate,
    query_id: str,
    message_id: int | None,
    prompt_id: UUID | None,
    action: str,
    arg: str | None,
) -> bool:
    """A questionnaire button. Everything in the callback data is treated as untrusted."""

    async def handle(conn: asyncpg.Connection, cases: list[Case], replies: _Replies) -> None:
        owned = [(case.region, case.id) for case in cases]
        prompt = prompt_id and await prompt_store.get_for_chat(conn, prompt_id, owned)
        if not prompt or not prompt.open or message_id is None:
            replies.notice(query_id, "question_closed")
            return
        case = next(c for c in cases if (c.region, c.id) == (prompt.region, prompt.case_id))
        replies.language, replies.region = case.language, case.region
        draft = Draft.from_stored(prompt.step, prompt.draft)
        outcome = questionnaire.press(draft, action, arg, SYMPTOM_CODES)
        if outcome.problem:
            replies.notice(query_id, outcome.problem.value)
            return
        state = dict(prompt.draft, message_id=message_id)
        await _advance(ctx, conn, case, prompt, outcome, state, replies)
        replies.notice(query_id, "recorded" if outcome.answer else None)

    return await _once(ctx, update, handle)


async def text(ctx: ServiceContext, update: ChatUpdate, message: str) -> bool:
    """A typed message: the temperature when one is asked for, otherwise a hint."""

    async def handle(conn: asyncpg.Connection, cases: list[Case], replies: _Replies) -> None:
        if not cases:
            replies.say("start_unregistered")
            return
        owned = [(case.region, case.id) for case in cases]
        open_prompts = await prompt_store.find_open_for_cases(conn, owned)
        waiting = [p for p in open_prompts if p.step == Step.TEMPERATURE]
        if not waiting:
            if open_prompts:
                replies.say("button_expected")
            else:
                replies.say("no_question", next=_next_prompt(ctx, cases[0]))
            return
        prompt = waiting[0]
        case = next(c for c in cases if (c.region, c.id) == (prompt.region, prompt.case_id))
        replies.language, replies.region = case.language, case.region
        outcome = questionnaire.type_text(Draft.from_stored(prompt.step, prompt.draft), message)
        if outcome.problem:
            detail = str(outcome.detail) if outcome.detail is not None else None
            replies.say(outcome.problem.value, value=detail)
            return
        await _advance(ctx, conn, case, prompt, outcome, dict(prompt.draft), replies)
        replies.say("entry_recorded", next=_next_prompt(ctx, case))

    return await _once(ctx, update, handle)


async def _advance(
    ctx: ServiceContext,
    conn: asyncpg.Connection,
    case: Case,
    prompt: Prompt,
    outcome: Outcome,
    state: dict[str, Any],
    replies: _Replies,
) -> None:
    """Store the new step (and the entry when complete); show it on the prompt message."""
    now = ctx.clock.now()
    state.update(outcome.draft.to_json())
    answered_at = now if outcome.answer else None
    await prompt_store.save_draft(conn, prompt, outcome.draft.step.value, state, answered_at)
    view: dict[str, Any] = {
        "prompt": str(prompt.id),
        "step": outcome.draft.step.value,
        "symptoms": list(outcome.draft.symptoms),
        "date": prompt.local_date.isoformat(),
    }
    if outcome.answer:
        await entry_store.insert_entry(
            conn, case.region, case.id, prompt.id, prompt.local_date, outcome.answer, now
        )
        view["answer"] = _answer_view(outcome.answer)
        view["next"] = _next_prompt(ctx, case)
    if state.get("message_id") is not None:
        replies.add(Kind.QUESTIONNAIRE, message_id=state["message_id"], **view)


def _answer_view(answer: Answer) -> dict[str, Any]:
    return {
        "well": answer.feeling_well,
        "symptoms": list(answer.symptoms),
        "temperature": str(answer.temperature_c) if answer.temperature_c is not None else None,
    }


async def unknown(ctx: ServiceContext, update: ChatUpdate) -> bool:
    """An unknown command or an unsupported kind of message: a short hint, never silence."""

    async def handle(conn: asyncpg.Connection, cases: list[Case], replies: _Replies) -> None:
        replies.say("unknown_command" if cases else "start_unregistered")

    return await _once(ctx, update, handle)


async def show_help(ctx: ServiceContext, update: ChatUpdate) -> bool:
    """``/help``: what the bot does and what to do now."""

    async def handle(conn: asyncpg.Connection, cases: list[Case], replies: _Replies) -> None:
        next_at = _next_prompt(ctx, cases[0]) if cases else None
        replies.say("help", registered=bool(cases), next=next_at)

    return await _once(ctx, update, handle)
