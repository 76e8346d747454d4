"""The commands around the questionnaire: /status, /language, /privacy, /stop and /resume."""

from __future__ import annotations

import asyncpg

from backend.domain.cases import quarantine_day
from backend.domain.messages import Kind
from backend.domain.questionnaire import Draft
from backend.services import escalations
from backend.services.chat import Chat, ChatUpdate, next_prompt_at, once
from backend.services.context import ServiceContext
from backend.services.questionnaire_flow import question_view
from backend.storage import cases as case_store
from backend.storage import entries as entry_store
from backend.storage import outbox as outbox_store
from backend.storage import prompts as prompt_store


def _registered(chat: Chat) -> bool:
    """Commands about monitoring need a monitored person; say what to do otherwise."""
    if chat.active:
        return True
    chat.replies.say("monitoring_ended" if chat.cases else "start_unregistered")
    return False


async def status(ctx: ServiceContext, update: ChatUpdate) -> bool:
    """Day N of M (from the official start), today's entry or its absence, the next prompt."""

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        if not _registered(chat):
            return
        people = []
        for case in chat.active:
            region = ctx.regions.require(case.region)
            today = region.local_date(ctx.clock.now())
            entry = await entry_store.latest_for_case(conn, case.region, case.id, today)
            people.append(
                {
                    "label": case.label if len(chat.active) > 1 else None,
                    "day": quarantine_day(case.quarantine_start, today),
                    "days": quarantine_day(case.quarantine_start, case.quarantine_end),
                    "end": case.quarantine_end.isoformat(),
                    "today": entry.recorded_at.isoformat() if entry else None,
                    "well": entry.feeling_well if entry else None,
                    "stopped": case.stopped_at is not None,
                    "next": next_prompt_at(ctx, case),
                }
            )
        chat.replies.say("status", people=people)

    return await once(ctx, update, handle)


async def language_menu(ctx: ServiceContext, update: ChatUpdate) -> bool:
    """/language: a button for each language, its own region's languages first."""

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        if not _registered(chat):
            return
        region = ctx.regions.require(chat.active[0].region)
        first = [lang for lang in region.languages if lang in ctx.languages]
        chat.replies.say(
            "choose_language",
            keyboard="languages",
            languages=first + [lang for lang in ctx.languages if lang not in first],
            current=chat.active[0].language,
        )

    return await once(ctx, update, handle)


async def choose_language(
    ctx: ServiceContext, update: ChatUpdate, query_id: str, message_id: int | None, language: str
) -> bool:
    """A language button: from now on everything, the open questionnaire too, in it."""

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        if language not in ctx.languages or not chat.active or message_id is None:
            chat.replies.notice(query_id, "question_closed")
            return
        await case_store.set_language(conn, update.chat_id, language)
        chat.replies.language = language
        chat.replies.notice(query_id)
        chat.replies.edit(message_id, "language_set")
        # Redraw the questionnaire that is under way, in the new language.
        owned = [(case.region, case.id) for case in chat.active]
        for prompt in await prompt_store.find_latest_for_cases(conn, owned):
            shown = prompt.draft.get("message_id")
            case = next(c for c in chat.active if c.id == prompt.case_id)
            if shown is not None and prompt.step != "done":
                draft = Draft.from_stored(prompt.step, prompt.draft)
                chat.replies.add(Kind.QUESTIONNAIRE, **question_view(case, prompt, draft, shown))

    return await once(ctx, update, handle)


async def privacy(ctx: ServiceContext, update: ChatUpdate) -> bool:
    """/privacy: what is stored, for how long, who sees it, how to reach the authority."""

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        case = (chat.active or chat.cases or [None])[0]
        region = ctx.regions.get(case.region) if case else None
        chat.replies.say(
            "privacy",
            authority=region.name if region else None,
            contact=region.contact if region else None,
            retention_days=region.retention_days if region else None,
        )

    return await once(ctx, update, handle)


async def stop(ctx: ServiceContext, update: ChatUpdate) -> bool:
    """/stop: ask for a confirmation first; the authority will be told."""

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        if not _registered(chat):
            return
        if all(case.stopped_at for case in chat.active):
            chat.replies.say("already_stopped")
            return
        authority = ctx.regions.require(chat.active[0].region).name
        chat.replies.say("stop_confirm", keyboard="stop", authority=authority)

    return await once(ctx, update, handle)


async def confirm_stop(
    ctx: ServiceContext, update: ChatUpdate, query_id: str, message_id: int | None, yes: bool
) -> bool:
    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        if not chat.active or message_id is None:
            chat.replies.notice(query_id, "question_closed")
            return
        chat.replies.notice(query_id)
        if not yes:
            chat.replies.edit(message_id, "stop_cancelled")
            return
        await case_store.set_stopped(conn, update.chat_id, ctx.clock.now())
        await outbox_store.withdraw_for_stopped_chat(conn, update.chat_id)
        for case in chat.active:
            await escalations.raise_stopped(ctx, conn, case)
        authority = ctx.regions.require(chat.active[0].region).name
        chat.replies.edit(message_id, "stopped", authority=authority)

    return await once(ctx, update, handle)


async def resume(ctx: ServiceContext, update: ChatUpdate) -> bool:
    """/resume: prompts again from the next round on."""

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        if not _registered(chat):
            return
        await case_store.set_stopped(conn, update.chat_id, None)
        chat.replies.say("resumed", next=next_prompt_at(ctx, chat.active[0]))

    return await once(ctx, update, handle)
