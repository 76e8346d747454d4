"""The daily questionnaire across Telegram updates: buttons and typed answers move a prompt's
draft through the steps of ``backend.domain.questionnaire``; the prompt message shows the
current step (edited in place after a button, sent anew after a typed answer so that it stays
at the bottom of the chat).

A step sent anew replaces the message it was on: its outbox row names the prompt
(``subject_id``), so the message the step is on now is found again once the sender has
recorded its id, and a button pressed on a replaced message answers "closed"."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from backend import metrics
from backend.domain import questionnaire
from backend.domain.cases import Case, quarantine_day
from backend.domain.messages import Kind
from backend.domain.prompt_screen import OnScreen
from backend.domain.questionnaire import Action, Draft, Outcome, Step
from backend.domain.regions import Region
from backend.services import alert_checks
from backend.services.chat import Chat, ChatUpdate, next_prompt_at, once
from backend.services.context import ServiceContext
from backend.storage import entries as entry_store
from backend.storage import outbox as outbox_store
from backend.storage import prompts as prompt_store
from backend.storage import rounds as round_store
from backend.storage.prompts import Prompt


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

    async def handle(conn: asyncpg.Connection, chat: Chat) -> None:
        # Only prompts of cases still monitored: a case staff have closed keeps its last
        # prompt message on the phone, and an answer to it must not be stored.
        owned = [(case.region, case.id) for case in chat.active]
        prompt = prompt_id and await prompt_store.get_for_chat(conn, prompt_id, owned)
        case = prompt and _case_of(chat, prompt)
        region = case and ctx.regions.get(case.region)
        if not prompt or not case or not region or not prompt.latest or message_id is None:
            _inert(chat, query_id, message_id)
            return
        screen = OnScreen.from_draft(prompt.draft)
        current = screen.shows(message_id)
        if current is None:
            messages = await _messages(conn, chat, prompt)
            current = not (messages and message_id in messages.replaced)
        if not current:
            # The step was sent again below: only that copy answers, so that two copies
            # can never move the questionnaire apart (or store an answer twice).
            _inert(chat, query_id, message_id)
            return
        chat.speak_as(case)
        draft = Draft.from_stored(prompt.step, prompt.draft)
        may_correct = _may_correct(region, prompt, ctx.clock.now())
        outcome = questionnaire.press(draft, action, arg, region.symptom_codes, may_correct)
        if outcome.problem:
            chat.replies.notice(query_id, outcome.problem.value)
            return
        await _advance(ctx, conn, chat, case, prompt, outcome, screen.pressed_on(message_id))
        chat.replies.notice(query_id, "recorded" if outcome.answer else None)

    return await once(ctx, update, handle)


def _inert(chat: Chat, query_id: str, message_id: int | None) -> None:
    """A button of a question that no longer counts (the case ended, a newer prompt came,
    the step was sent anew): say so, and take the buttons off that message. They are taken
    off when that happens, but a message still on its way then could not be named."""
    chat.replies.notice(query_id, "question_closed")
    if message_id is not None:
        chat.replies.add(Kind.CLEAR_BUTTONS, message_id=message_id)


async def typed(ctx: ServiceContext, conn: asyncpg.Connection, chat: Chat, message: str) -> None:
    """A typed message, when the chat has active cases."""
    owned = [(case.region, case.id) for case in chat.active]
    prompts = await prompt_store.find_latest_for_cases(conn, owned)
    waiting = [p for p in prompts if questionnaire.expects_text(p.step)]
    if not waiting:
        unfinished = [p for p in prompts if p.step != Step.DONE]
        if unfinished:
            chat.replies.say("button_expected")
            await show_again(conn, chat)
        else:
            chat.replies.say("no_question", next=next_prompt_at(ctx, chat.active[0]))
        return
    prompt = waiting[0]  # the one touched last
    case = _case_of(chat, prompt)
    assert case is not None
    chat.speak_as(case)
    outcome = questionnaire.type_text(Draft.from_stored(prompt.step, prompt.draft), message)
    if outcome.problem:
        detail = str(outcome.detail) if outcome.detail is not None else None
        chat.replies.say(outcome.problem.value, value=detail)
        return
    old_message = await on_screen(conn, chat, prompt)
    if old_message is not None:
        chat.replies.add(Kind.CLEAR_BUTTONS, message_id=old_message)
    # The next question goes below the typed answer, where the person is looking.
    screen = OnScreen.from_draft(prompt.draft).sent_anew(old_message)
    await _advance(ctx, conn, chat, case, prompt, outcome, screen)


async def _advance(
    ctx: ServiceContext,
    conn: asyncpg.Connection,
    chat: Chat,
    case: Case,
    prompt: Prompt,
    outcome: Outcome,
    screen: OnScreen,
) -> None:
    """Store the new step (and the entry when sent); show it where ``screen`` says: edited
    on the message pressed, or sent anew."""
    now = ctx.clock.now()
    state = {**outcome.draft.to_json(), **screen.to_draft()}
    answered_at = prompt.answered_at or (now if outcome.answer else None)
    await prompt_store.save_draft(conn, prompt, outcome.draft.step.value, state, answered_at)
    view = question_view(case, prompt, outcome.draft, screen.pressed)
    if outcome.answer:
        entry_id = await entry_store.save_entry(
            conn, case.region, case.id, prompt.id, prompt.local_date, outcome.answer, now
        )
        region = ctx.regions.require(case.region)
        # The entry is queued for the alert rules in the transaction that stores it: both
        # commit, or neither does (services.alert_checks says why not the rules right here).
        queued = await alert_checks.queue_if_needed(
            conn, region, case, entry_id, prompt.local_date, outcome.answer
        )
        if queued:
            chat.replies.after_commit.append(ctx.checks.notify)
        chat.replies.after_commit.append(metrics.ENTRIES_STORED.labels(case.region).inc)
        view["next"] = next_prompt_at(ctx, case)
        view["corrected"] = prompt.answered_at is not None
        if region.rules.red_flags_among(outcome.answer.symptoms):
            # The authority is alerted, but may not look for a while: say whom to call now.
            view["urgent"] = region.emergency_number
        await _release_next_of_household(conn, chat, prompt)
    chat.replies.add(Kind.QUESTIONNAIRE, subject_id=prompt.id, **view)


async def show_again(conn: asyncpg.Connection, chat: Chat) -> None:
    """Send every open step once more at the bottom of the chat, where the person is looking
    (after a command, or text where a button answers), and take the buttons off the old copy.

    Only steps already on screen: one on its way (queued, or held for a household's turn)
    will arrive by itself, and a paused person is not asked again."""
    owned = [(case.region, case.id) for case in chat.active if case.stopped_at is None]
    # Oldest first, so that the one touched last ends up at the bottom.
    for prompt in reversed(await prompt_store.find_latest_for_cases(conn, owned)):
        case = _case_of(chat, prompt)
        shown = await on_screen(conn, chat, prompt)
        if case is None or prompt.step == Step.DONE or shown is None:
            continue
        chat.speak_as(case)
        chat.replies.add(Kind.CLEAR_BUTTONS, message_id=shown)
        # The new copy's id is known once it is sent (its outbox row): until then, none.
        state = {**prompt.draft, **OnScreen.from_draft(prompt.draft).sent_anew(shown).to_draft()}
        await prompt_store.save_draft(conn, prompt, prompt.step, state, prompt.answered_at)
        draft = Draft.from_stored(prompt.step, prompt.draft)
        view = question_view(case, prompt, draft, None)
        chat.replies.add(Kind.QUESTIONNAIRE, subject_id=prompt.id, **view)


async def _messages(
    conn: asyncpg.Connection, chat: Chat, prompt: Prompt
) -> outbox_store.PromptMessages | None:
    return await outbox_store.find_prompt_messages(
        conn, prompt.region, chat.replies.update.chat_id, prompt.id
    )


async def on_screen(conn: asyncpg.Connection, chat: Chat, prompt: Prompt) -> int | None:
    """The message showing the prompt's step now, if known: the one last pressed, else the
    one last sent for it; None while that is still on its way (or was never sent)."""
    pressed = OnScreen.from_draft(prompt.draft).pressed
    if pressed is not None:
        return pressed
    messages = await _messages(conn, chat, prompt)
    if messages is None or messages.queued:
        return None
    return messages.current


def question_view(
    case: Case, prompt: Prompt, draft: Draft, message_id: int | None
) -> dict[str, Any]:
    """What the bot needs to draw a step: plain values, rendered at send time."""
    return {
        "prompt": str(prompt.id),
        "message_id": message_id,
        "region": case.region,
        "step": draft.step.value,
        "draft": draft.to_json(),
        "date": prompt.local_date.isoformat(),
        "day": quarantine_day(case.quarantine_start, prompt.local_date),
        "days": quarantine_day(case.quarantine_start, case.quarantine_end),
        "label": case.label,
    }


async def _release_next_of_household(
    conn: asyncpg.Connection, chat: Chat, answered: Prompt
) -> None:
    """One person of a household has answered: ask the next one now, not at their turn."""
    others = [(c.region, c.id) for c in chat.active if c.id != answered.case_id]
    if not others:
        return
    order = {c.id: c.prompt_order for c in chat.active}
    waiting = [
        p
        for p in await prompt_store.find_latest_for_cases(conn, others)
        if p.answered_at is None and p.local_date == answered.local_date
    ]
    if waiting:
        following = min(waiting, key=lambda p: order.get(p.case_id, 0))
        await round_store.release_prompt(conn, following.region, following.id)


def _case_of(chat: Chat, prompt: Prompt) -> Case | None:
    return next(
        (c for c in chat.cases if (c.region, c.id) == (prompt.region, prompt.case_id)), None
    )


def _may_correct(region: Region, prompt: Prompt, now: datetime) -> bool:
    """Corrections: while no newer prompt has come (checked by the caller), and within the
    region's correction window if it sets one."""
    if region.correction_hours is None or prompt.answered_at is None:
        return True
    return now < prompt.answered_at + timedelta(hours=region.correction_hours)


__all__ = ["Action", "on_screen", "press", "question_view", "show_again", "typed"]
