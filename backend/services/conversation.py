"""The citizen's conversation: activation with a one-time code, help, and what to do with a
typed message or an unknown command. Questionnaire buttons are in ``questionnaire_flow``,
the other commands in ``chat_commands``."""

from __future__ import annotations

import asyncpg

from backend.domain.activation import hash_code, looks_like_code
from backend.domain.cases import Case
from backend.i18n import pick_language
from backend.services import questionnaire_flow
from backend.services.chat import Chat, ChatUpdate, next_prompt_at, once, say_not_monitored
from backend.services.context import ServiceContext
from backend.storage import cases as case_store


async def start(ctx: ServiceContext, update: ChatUpdate, payload: str | None) -> bool:
    """``/start [code]``: bind the chat to a case with a one-time code, or explain."""

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        if not payload:
            if chat.active:
                chat.replies.say("already_active", next=next_prompt_at(ctx, chat.active[0]))
                await questionnaire_flow.show_again(conn, chat)
            else:
                say_not_monitored(ctx, chat)
            return
        if not looks_like_code(payload):
            chat.replies.say("code_invalid")
            return
        await _activate(ctx, conn, chat, payload)

    return await once(ctx, update, handle)


async def _activate(ctx: ServiceContext, conn: asyncpg.Connection, chat: Chat, code: str) -> None:
    now = ctx.clock.now()
    chat_id = chat.replies.update.chat_id
    stored = await case_store.get_activation_code(conn, hash_code(code))
    if stored is None:
        chat.replies.say("code_invalid")
        return
    if stored["used_at"] is not None:
        bound_here = stored["used_chat_id"] == chat_id
        if bound_here and chat.active:
            chat.replies.say("already_active", next=next_prompt_at(ctx, chat.active[0]))
            await questionnaire_flow.show_again(conn, chat)
        else:
            chat.replies.say("code_used")
        return
    if stored["expires_at"] <= now:
        # Ended because staff made a newer link (revoked: a person who changed phones), or
        # because its time ran out: said as what happened, so the person asks for the right
        # thing.
        replaced = await case_store.has_newer_code(
            conn, stored["region"], stored["case_id"], stored["created_at"]
        )
        chat.replies.say("code_replaced" if replaced else "code_expired")
        return
    used = await case_store.use_activation_code(conn, hash_code(code), chat_id, now)
    case = used and await case_store.bind_chat(conn, used[0], used[1], chat_id, now)
    if not case:
        chat.replies.say("code_invalid")
        return
    region = ctx.regions.require(case.region)
    if not case.language_chosen:
        case = (
            await case_store.settle_language(
                conn, case.region, case.id, _first_language(ctx, chat, case)
            )
            or case
        )
    chat.speak_as(case)
    chat.replies.say(
        "welcome",
        authority=region.name,
        start=case.quarantine_start.isoformat(),
        end=case.quarantine_end.isoformat(),
        times=[t.strftime("%H:%M") for t in region.prompt_times],
        next=next_prompt_at(ctx, case),
        label=case.label if chat.active else None,  # a second person of a household
    )


def _first_language(ctx: ServiceContext, chat: Chat, case: Case) -> str:
    """For a case registered without a language: the household's (one chat, one language),
    else the person's Telegram language if the bot speaks it, else the region's default."""
    household = [c for c in chat.active if c.id != case.id]
    if household:
        return household[0].language
    return pick_language(ctx.languages, chat.replies.update.telegram_language, case.language)


async def text(ctx: ServiceContext, update: ChatUpdate, message: str) -> bool:
    """A typed message: the answer to an open question that wants text, else a hint."""

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        if not chat.active:
            say_not_monitored(ctx, chat)
            return
        await questionnaire_flow.typed(ctx, conn, chat, message)

    return await once(ctx, update, handle)


async def unknown(ctx: ServiceContext, update: ChatUpdate) -> bool:
    """An unknown command or an unsupported kind of message: a short hint, never silence."""

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        if chat.active:
            chat.replies.say("unknown_command")
        else:
            say_not_monitored(ctx, chat)

    return await once(ctx, update, handle)


async def show_help(ctx: ServiceContext, update: ChatUpdate) -> bool:
    """``/help``: what the bot does and what to do now."""

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        if not chat.active:
            say_not_monitored(ctx, chat)
            return
        chat.replies.say("help", registered=True, next=next_prompt_at(ctx, chat.active[0]))
        await questionnaire_flow.show_again(conn, chat)

    return await once(ctx, update, handle)
