"""The commands around the questionnaire: /status, /language, /privacy, /stop and /resume."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

import asyncpg

from backend.domain.cases import quarantine_day
from backend.domain.messages import Kind
from backend.domain.questionnaire import Draft
from backend.services import escalations
from backend.services.chat import Chat, ChatUpdate, next_prompt_at, once, say_not_monitored
from backend.services.context import ServiceContext
from backend.services.questionnaire_flow import on_screen, question_view, show_again
from backend.storage import cases as case_store
from backend.storage import entries as entry_store
from backend.storage import outbox as outbox_store
from backend.storage import prompts as prompt_store


def _registered(ctx: ServiceContext, chat: Chat) -> bool:
    """Commands about monitoring need a monitored person; say what to do otherwise."""
    if chat.active:
        return True
    say_not_monitored(ctx, chat)
    return False


async def status(ctx: ServiceContext, update: ChatUpdate) -> bool:
    """Day N of M (from the official start), today's entry or its absence, the next prompt."""

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        if not _registered(ctx, chat):
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
                    "today": entry.recorded_at.astimezone(region.zone).isoformat()
                    if entry
                    else None,
                    "zone": region.timezone,
                    "well": entry.feeling_well if entry else None,
                    "stopped": case.stopped_at is not None,
                    "next": next_prompt_at(ctx, case),
                }
            )
        chat.replies.say("status", people=people)
        await show_again(conn, chat)

    return await once(ctx, update, handle)


async def language_menu(ctx: ServiceContext, update: ChatUpdate) -> bool:
    """/language: a button for each language, its own region's languages first."""

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        if not _registered(ctx, chat):
            return
        region = ctx.regions.require(chat.active[0].region)
        first = [lang for lang in region.languages if lang in ctx.languages]
        chat.replies.menu(
            "choose_language",
            "languages",
            languages=first + [lang for lang in ctx.languages if lang not in first],
            current=chat.active[0].language,
        )

    return await once(ctx, update, handle)


async def choose_language(
    ctx: ServiceContext,
    update: ChatUpdate,
    query_id: str,
    message_id: int | None,
    menu_id: UUID,
    language: str,
) -> bool:
    """A language button: from now on everything, the open questionnaire too, in it."""

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        menu = await _pressed_menu(conn, update, message_id, menu_id, "languages")
        if language not in ctx.languages or not chat.active or menu is None:
            chat.replies.notice(query_id, "question_closed")
            return
        # Once only, as /stop's: an older menu, or this one pressed again, changes nothing.
        await _close_menus(conn, chat, update, "languages", keep=menu.message_id)
        if menu.answered:
            _closed(chat, query_id, menu)
            return
        await case_store.set_language(conn, update.chat_id, language)
        chat.replies.language = language
        chat.replies.notice(query_id)
        _answer_menu(chat, menu, message_id, "language_set")
        # What is still queued (a prompt, the step sent anew) goes out in the new language...
        await outbox_store.set_pending_language(conn, update.chat_id, language)
        # ...and the questionnaire already on screen is redrawn in it.
        owned = [(case.region, case.id) for case in chat.active]
        for prompt in await prompt_store.find_latest_for_cases(conn, owned):
            shown = await on_screen(conn, chat, prompt)
            case = next(c for c in chat.active if c.id == prompt.case_id)
            if shown is not None and prompt.step != "done":
                draft = Draft.from_stored(prompt.step, prompt.draft)
                view = question_view(case, prompt, draft, shown)
                chat.replies.add(Kind.QUESTIONNAIRE, subject_id=prompt.id, **view)

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
        if not _registered(ctx, chat):
            return
        if all(case.stopped_at for case in chat.active):
            chat.replies.say("already_stopped")
            return
        authority = ctx.regions.require(chat.active[0].region).name
        chat.replies.menu("stop_confirm", "stop", authority=authority)

    return await once(ctx, update, handle)


async def confirm_stop(
    ctx: ServiceContext,
    update: ChatUpdate,
    query_id: str,
    message_id: int | None,
    menu_id: UUID,
    yes: bool,
) -> bool:
    """A /stop menu's "Yes" or "No": acted on once, on the menu's own message only."""

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        menu = await _pressed_menu(conn, update, message_id, menu_id, "stop")
        if not chat.active or menu is None:
            chat.replies.notice(query_id, "question_closed")
            return
        # Answering one menu answers them all: an older copy, or one from before /resume,
        # must not stop (or say "the questions continue") again.
        await _close_menus(conn, chat, update, "stop", keep=menu.message_id)
        if menu.answered:
            _closed(chat, query_id, menu)
            return
        chat.replies.notice(query_id)
        authority = ctx.regions.require(chat.active[0].region).name
        if all(case.stopped_at for case in chat.active):
            _answer_menu(chat, menu, message_id, "already_stopped")
        elif not yes:
            _answer_menu(chat, menu, message_id, "stop_cancelled")
        else:
            await case_store.set_stopped(conn, update.chat_id, ctx.clock.now())
            await outbox_store.withdraw_for_stopped_chat(conn, update.chat_id)
            for case in chat.active:
                await escalations.raise_stopped(ctx, conn, case)
            _answer_menu(chat, menu, message_id, "stopped", authority=authority)

    return await once(ctx, update, handle)


async def _close_menus(
    conn: asyncpg.Connection,
    chat: Chat,
    update: ChatUpdate,
    keyboard: str,
    keep: int | None = None,
) -> None:
    """Every open ``keyboard`` menu of the chat is answered now; their buttons go (but
    ``keep``'s, the menu being answered, which shows the answer instead)."""
    for message_id in await outbox_store.close_menus(conn, update.chat_id, keyboard):
        if message_id != keep:
            chat.replies.add(Kind.CLEAR_BUTTONS, message_id=message_id)


def _closed(chat: Chat, query_id: str, menu: outbox_store.Menu) -> None:
    """A menu answered before: "closed", and its buttons go."""
    chat.replies.notice(query_id, "question_closed")
    if menu.message_id is not None:
        chat.replies.add(Kind.CLEAR_BUTTONS, message_id=menu.message_id)


async def _pressed_menu(
    conn: asyncpg.Connection,
    update: ChatUpdate,
    message_id: int | None,
    menu_id: UUID,
    keyboard: str,
) -> outbox_store.Menu | None:
    """The menu a button names, if this chat was sent it and it was pressed on that menu (or
    on a message not yet known, while the sender has not recorded the menu's message id)."""
    menu = await outbox_store.find_menu(conn, update.chat_id, menu_id, keyboard)
    if menu is None or message_id is None:
        return None
    if menu.message_id is not None and menu.message_id != message_id:
        return None  # the menu's data pressed on another message, a prompt perhaps
    return menu


def _answer_menu(
    chat: Chat, menu: outbox_store.Menu, pressed: int | None, message: str, **params: Any
) -> None:
    """Show the answer in place of the menu; as a new message if the pressed message is not
    yet known to be the menu, so that no other message (a prompt) is ever overwritten."""
    if menu.message_id is not None and menu.message_id == pressed:
        chat.replies.edit(pressed, message, **params)
    else:
        chat.replies.say(message, **params)


async def resume(ctx: ServiceContext, update: ChatUpdate) -> bool:
    """/resume: prompts again from the next round on."""

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        if not _registered(ctx, chat):
            return
        if not any(case.stopped_at for case in chat.active):
            # Nothing to resume: "welcome back" would suggest they had been away.
            chat.replies.say("not_paused", next=next_prompt_at(ctx, chat.active[0]))
            return
        await case_store.set_stopped(conn, update.chat_id, None)
        # A /stop menu still on screen asked about the state before this: it must not act.
        await _close_menus(conn, chat, update, "stop")
        resumed = replace(chat.active[0], stopped_at=None)  # as it is from now on
        chat.replies.say("resumed", next=next_prompt_at(ctx, resumed))

    return await once(ctx, update, handle)
