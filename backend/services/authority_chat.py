"""The authority's side in Telegram: binding a group to a region, linking staff accounts, the
Claim and Resolve buttons under alerts, and /broadcast from the group.

Only staff linked to the group's region may act; anyone else gets a short "not authorised"
notice and nothing changes. Every button's data is checked against the database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from backend.domain.activation import hash_code, looks_like_code, new_code
from backend.domain.broadcasts import MAX_TEXT
from backend.domain.messages import NO_REGION, Kind, Outgoing, Priority
from backend.domain.staff import StaffMember
from backend.services import audit, escalations
from backend.services import staff as staff_service
from backend.services.broadcasts import create_in
from backend.services.chat import ChatUpdate, Replies, language_for
from backend.services.context import ServiceContext
from backend.storage import cases as case_store
from backend.storage import escalations as escalation_store
from backend.storage import groups as group_store
from backend.storage import outbox as outbox_store
from backend.storage import staff as staff_store
from backend.storage.broadcasts import count_recipients
from backend.storage.escalations import Escalation
from backend.storage.updates import claim_update

CODE_LIFETIME = timedelta(hours=24)
MAX_COMMENT = 500


@dataclass(frozen=True)
class LinkCode:
    code: str  # shown once
    expires_at: datetime


async def new_staff_link(ctx: ServiceContext, staff_id: UUID) -> LinkCode:
    """A one-time code that links the Telegram account which sends it to the bot."""
    return await _new_code(ctx, "staff", staff_id=staff_id)


async def new_group_link(
    ctx: ServiceContext, region: str, staff: StaffMember | None = None
) -> LinkCode:
    """A one-time code for ``?startgroup=``: the group the bot is added to becomes the
    region's authority group. ``staff`` None: an operator at the command line."""
    if staff is not None:
        staff.require_write(region)
    ctx.regions.require(region)
    return await _new_code(ctx, "group", region=region, created_by=staff.id if staff else None)


async def _new_code(ctx: ServiceContext, purpose: str, **owner: Any) -> LinkCode:
    # "staff_..." or "group_...": longer than a case's activation code, so never taken for one.
    code = f"{purpose}_{new_code()}"
    expires_at = ctx.clock.now() + CODE_LIFETIME
    await ctx.db.transaction(group_store.insert_code, hash_code(code), purpose, expires_at, **owner)
    return LinkCode(code, expires_at)


@dataclass
class GroupChat:
    """An update from a group (or a staff member's private chat), as the handlers see it."""

    update: ChatUpdate
    user_id: int | None
    region: str | None  # the region whose authority group this is
    replies: Replies
    staff: StaffMember | None = None
    # Regions whose alerts are posted here: the group's own, and those naming this chat as
    # their fallback for unclaimed urgent alerts.
    alert_regions: tuple[str, ...] = ()

    @property
    def authorised(self) -> bool:
        """Linked staff of this group's region who may change data."""
        return self.region is not None and self.may_write(self.region)

    def may_write(self, region: str) -> bool:
        return self.staff is not None and self.staff.may_write(region)


GroupHandler = Callable[[asyncpg.Connection, GroupChat], Awaitable[None]]


async def chat_regions(
    ctx: ServiceContext, conn: asyncpg.Connection, chat_id: int
) -> tuple[str | None, tuple[str, ...]]:
    """The region whose authority group ``chat_id`` is, and every region whose alerts are
    posted there. A group configured in the regions file is found under its new id after
    it became a supergroup; a startgroup binding overrides the file."""
    bound = await group_store.region_of_group(conn, chat_id)
    ids = await group_store.earlier_chat_ids(conn, chat_id)
    if bound is None:
        for region in ctx.regions:
            if region.authority_chat_id in ids and not await group_store.bound_group(
                conn, region.id
            ):
                bound = region.id
                break
    fallback = [r.id for r in ctx.regions if r.rules.fallback_chat_id in ids]
    alert_regions = ([bound] if bound else []) + [r for r in fallback if r != bound]
    return bound, tuple(alert_regions)


async def once_in_group(
    ctx: ServiceContext, update: ChatUpdate, user_id: int | None, handle: GroupHandler
) -> bool:
    """Like ``chat.once`` for authority chats: the group's region, its language, the staff
    member behind the Telegram account."""

    async def body(conn: asyncpg.Connection) -> list[Outgoing] | None:
        if not await claim_update(conn, update.key):
            return None
        region_id, alert_regions = await chat_regions(ctx, conn, update.chat_id)
        region = ctx.regions.get(region_id) if region_id else None
        if region:
            language = region.default_language
        else:
            # A private chat (a staff member linking their account): one language rule for
            # every reply, the case's when the chat has one, as in chat.once.
            language = language_for(
                ctx, await case_store.find_by_chat(conn, update.chat_id), update
            )
        chat = GroupChat(
            update,
            user_id,
            region_id,
            Replies(update, language, region_id or NO_REGION),
            alert_regions=alert_regions,
        )
        staff_id = user_id and await group_store.staff_id_for_telegram(conn, user_id)
        chat.staff = staff_id and await staff_store.get_member(conn, staff_id) or None
        await handle(conn, chat)
        await outbox_store.enqueue(conn, chat.replies.messages)
        return chat.replies.messages

    messages = await ctx.db.keyed_transaction(body)  # keyed by the update: see chat.once
    if messages:
        ctx.outbox.notify()
    return messages is not None


async def link_staff_account(
    ctx: ServiceContext, update: ChatUpdate, user_id: int, code: str
) -> bool:
    """``/start staff_...`` or ``/link staff_...`` in a private chat with the bot."""

    async def handle(conn: asyncpg.Connection, chat: GroupChat) -> None:
        used = looks_like_code(code) and await group_store.use_code(
            conn, hash_code(code), "staff", ctx.clock.now()
        )
        if not used:
            chat.replies.say("link_invalid")
            return
        await group_store.link_staff(conn, used["staff_id"], user_id)
        member = await staff_store.get_member(conn, used["staff_id"])
        # From now on this Telegram account claims, resolves and broadcasts for the member:
        # the audit log must say when it was linked, and to which account.
        await staff_service.record(
            conn,
            replace(member, client="telegram") if member else None,
            "staff.telegram_link",
            await staff_store.assigned_regions(conn, used["staff_id"]),
            ctx.clock.now(),
            staff=str(used["staff_id"]),
            telegram_user_id=user_id,
        )
        chat.replies.say("link_done", name=member.name if member else "")

    return await once_in_group(ctx, update, user_id, handle)


async def bind_group(
    ctx: ServiceContext, update: ChatUpdate, user_id: int | None, code: str
) -> bool:
    """``/start@bot group_...`` in a group: the bot was added with a startgroup link.

    A code alone is not enough: whoever holds it could redirect a region's alerts to a group
    of their own. The person adding the bot must be linked staff who may change the region's
    data; the group the alerts went to before is told they go elsewhere now.
    """

    async def handle(conn: asyncpg.Connection, chat: GroupChat) -> None:
        now = ctx.clock.now()
        owner = looks_like_code(code) and await group_store.code_owner(
            conn, hash_code(code), "group", now
        )
        region = owner and ctx.regions.get(owner["region"])
        if not region:
            chat.replies.say("group_code_invalid")
            return
        chat.replies.language, chat.replies.region = region.default_language, region.id
        if not chat.may_write(region.id):
            chat.replies.say("group_bind_not_authorised")  # the code stays unused
            return
        if not await group_store.use_code(conn, hash_code(code), "group", now):
            chat.replies.say("group_code_invalid")
            return
        previous = await escalations.group_chat(ctx, conn, region)
        await group_store.bind_group(conn, region.id, update.chat_id)
        chat.replies.say("group_bound", authority=region.name)
        if previous is not None and previous != update.chat_id:
            chat.replies.messages.append(
                Outgoing(
                    chat_id=previous,
                    kind=Kind.REPLY,
                    language=region.default_language,
                    priority=Priority.ALERT,
                    dedup_key=f"group-replaced:{update.key}",
                    payload={
                        "message": "group_replaced",
                        "params": {"authority": region.name},
                        "keyboard": None,
                    },
                    region=region.id,
                )
            )
        await audit.record(
            conn,
            chat.staff,
            "group.bind",
            region.id,
            now,
            chat_id=update.chat_id,
            replaced_chat_id=previous,
        )

    return await once_in_group(ctx, update, user_id, handle)


async def _alert_for(
    conn: asyncpg.Connection, chat: GroupChat, escalation_id: UUID
) -> tuple[Escalation | None, str | None]:
    """The alert a button or reply in this chat is about, or the notice to answer instead.

    Only alerts of the regions posted here are found, and only staff who may change the
    alert's region may act: in a fallback chat, staff of that alert's region only.
    """
    if not any(chat.may_write(region) for region in chat.alert_regions):
        return None, "not_authorised"
    escalation = await escalation_store.get(conn, chat.alert_regions, escalation_id)
    if escalation is None:
        return None, "question_closed"
    if not chat.may_write(escalation.region):
        return None, "not_authorised"
    return escalation, None


async def alert_button(
    ctx: ServiceContext,
    update: ChatUpdate,
    user_id: int,
    query_id: str,
    message_id: int | None,
    escalation_id: UUID,
    action: str,
) -> bool:
    """Claim ("c"), Resolve ("r": asks for a comment) or Resolve without comment ("n").

    ``escalation_id`` is the message's (its first alert's); each button acts on every
    unresolved alert of that case, those listed in other messages too: the duty officer who
    takes a case takes all of it."""

    async def handle(conn: asyncpg.Connection, chat: GroupChat) -> None:
        escalation, refusal = await _alert_for(conn, chat, escalation_id)
        if escalation is None or message_id is None:
            chat.replies.notice(query_id, refusal or "question_closed")
            return
        now = ctx.clock.now()
        unresolved = await escalation_store.unresolved_for_case(
            conn, escalation.region, escalation.case_id
        )
        if action == "c":
            claimed = await escalation_store.claim_case(
                conn, escalation.region, escalation.case_id, chat.staff.id, now
            )
            if claimed:
                chat.replies.notice(query_id, "claimed")
                await escalations.acted_on(
                    ctx, conn, chat.staff, "escalation.claim", claimed, now, via="telegram"
                )
            else:
                chat.replies.notice(query_id, "already_taken")
        elif action == "r" and unresolved:
            chat.replies.notice(query_id)
            case = await case_store.get_case(conn, [escalation.region], escalation.case_id)
            chat.replies.say(
                "resolve_prompt",
                keyboard="resolve",
                escalation=str(escalation.id),
                reference=case.reference if case else "?",
            )
        elif action == "n" and unresolved:
            await _resolve(ctx, conn, chat, escalation, None, message_id)
            chat.replies.notice(query_id, "resolved")
        else:
            chat.replies.notice(query_id, "already_taken")

    return await once_in_group(ctx, update, user_id, handle)


async def resolve_with_comment(
    ctx: ServiceContext,
    update: ChatUpdate,
    user_id: int,
    escalation_id: UUID,
    prompt_message_id: int,
    comment: str,
) -> bool:
    """A reply to the bot's "add a comment" message resolves the alert with that comment."""

    async def handle(conn: asyncpg.Connection, chat: GroupChat) -> None:
        escalation, _ = await _alert_for(conn, chat, escalation_id)
        if escalation is None:
            return  # a message by someone else in the group: none of our business
        text = " ".join(comment.split())[:MAX_COMMENT]
        await _resolve(ctx, conn, chat, escalation, text or None, prompt_message_id)

    return await once_in_group(ctx, update, user_id, handle)


async def _resolve(
    ctx: ServiceContext,
    conn: asyncpg.Connection,
    chat: GroupChat,
    escalation: Escalation,
    comment: str | None,
    prompt_message_id: int,
) -> None:
    """Resolve every unresolved alert of the message's case, with the one comment."""
    now = ctx.clock.now()
    resolved = await escalation_store.resolve_case(
        conn, escalation.region, escalation.case_id, chat.staff.id, comment, now
    )
    if not resolved:
        return
    await escalations.acted_on(
        ctx, conn, chat.staff, "escalation.resolve", resolved, now, via="telegram"
    )
    chat.replies.edit(prompt_message_id, "resolve_done")


async def broadcast_preview(
    ctx: ServiceContext, update: ChatUpdate, user_id: int | None, text: str
) -> bool:
    """``/broadcast <text>`` in the authority group: a preview with the number of people it
    would reach, and a button to send it."""

    async def handle(conn: asyncpg.Connection, chat: GroupChat) -> None:
        if not chat.authorised:
            chat.replies.say("not_authorised_broadcast")
            return
        notice = text.strip()
        if not notice or len(notice) > MAX_TEXT:
            chat.replies.say("broadcast_usage", limit=MAX_TEXT)
            return
        region = ctx.regions.require(chat.region)
        draft = await group_store.insert_draft(
            conn, region.id, chat.staff.id, notice, ctx.clock.now()
        )
        recipients = await count_recipients(conn, [region.id], None, urgent=False)
        chat.replies.say(
            "broadcast_preview",
            keyboard="broadcast",
            draft=str(draft),
            recipients=recipients,
            text=notice,
            authority=region.name,
        )

    return await once_in_group(ctx, update, user_id, handle)


async def broadcast_decision(
    ctx: ServiceContext,
    update: ChatUpdate,
    user_id: int,
    query_id: str,
    message_id: int | None,
    draft_id: UUID,
    send: bool,
) -> bool:
    """The preview's buttons: send the notice to everyone monitored in the region, or not."""

    async def handle(conn: asyncpg.Connection, chat: GroupChat) -> None:
        if not chat.authorised:
            chat.replies.notice(query_id, "not_authorised")
            return
        draft = await group_store.decide_draft(conn, draft_id, chat.region, ctx.clock.now())
        if draft is None or message_id is None:
            chat.replies.notice(query_id, "question_closed")
            return
        chat.replies.notice(query_id)
        if not send:
            chat.replies.edit(message_id, "broadcast_cancelled")
            return
        region = ctx.regions.require(chat.region)
        broadcast_id, total = await create_in(
            conn,
            chat.staff,
            [region.id],
            {region.default_language: draft["text"]},
            now=ctx.clock.now(),
        )
        await group_store.set_draft_broadcast(conn, draft_id, broadcast_id)
        chat.replies.edit(message_id, "broadcast_sent", recipients=total)

    return await once_in_group(ctx, update, user_id, handle)


async def group_migrated(ctx: ServiceContext, old_chat_id: int, new_chat_id: int) -> None:
    """A group became a supergroup (new id): its region, pending messages and later alerts
    follow it."""
    await ctx.db.transaction(outbox_store.move_chat, old_chat_id, new_chat_id)
