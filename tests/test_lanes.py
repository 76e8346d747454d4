"""Long polling's bookkeeping (bot/polling.py, bot/lanes.py): updates run concurrently across
chats and in order within a chat, and the offset never confirms an unfinished update nor
takes a repeated one for new."""

from __future__ import annotations

import asyncio

from bot.ingest import Outcome
from bot.lanes import ChatLanes
from bot.polling import PollWindow


def message(update_id: int, chat: int) -> dict:
    return {"update_id": update_id, "message": {"chat": {"id": chat}, "text": "x"}}


def test_the_offset_is_the_first_unfinished_update() -> None:
    window = PollWindow()
    assert window.offset is None
    batch = [message(10, 1), message(11, 2), message(12, 3)]
    assert window.take(batch, None) == batch
    window.finished(11)
    window.finished(12)
    assert window.offset == 10  # 11 and 12 are done, but 10 is not: confirm nothing yet
    window.finished(10)
    assert window.offset == 13 and not window.busy


def test_repeats_are_skipped_even_when_they_finished_while_the_batch_was_on_its_way() -> None:
    window = PollWindow()
    window.take([message(10, 1), message(11, 2)], None)
    offset = window.offset  # 10: sent while both are in hand
    window.finished(10)  # ... and both finish before Telegram's answer comes back
    window.finished(11)
    assert window.take([message(10, 1), message(11, 2), message(12, 3)], offset) == [message(12, 3)]


def test_a_server_numbering_anew_is_not_ignored() -> None:
    window = PollWindow()
    window.take([message(500, 1)], None)
    window.finished(500)
    assert window.take([message(1, 1)], window.offset) == [message(1, 1)]


async def test_one_chat_in_order_other_chats_alongside_and_a_failure_tried_again() -> None:
    order: list[int] = []
    running: set[int] = set()
    overlap: list[set[int]] = []
    fails = {21: 2}  # update 21 is not committed twice, then it is
    finished: list[int] = []
    release = asyncio.Event()

    async def process(data: dict) -> Outcome:
        chat = data["message"]["chat"]["id"]
        assert chat not in running, "two updates of one chat at once"
        running.add(chat)
        overlap.append(set(running))
        if data["update_id"] == 30:
            await release.wait()  # chat 3 is slow: nobody else may wait for it
        running.discard(chat)
        if fails.get(data["update_id"], 0):
            fails[data["update_id"]] -= 1
            return Outcome.RETRY
        order.append(data["update_id"])
        return Outcome.DONE

    four_done = asyncio.Event()

    def done(update_id: int) -> None:
        finished.append(update_id)
        if len(finished) == 4:
            four_done.set()

    lanes = ChatLanes(process, concurrency=4, retry_delays=(0.001,))
    for update in (message(30, 3), message(20, 2), message(21, 2), message(22, 2), message(10, 1)):
        lanes.add(update, done)
    await asyncio.wait_for(four_done.wait(), 5)
    assert [u for u in order if u // 10 == 2] == [20, 21, 22] and 10 in order
    assert 30 not in finished and len(lanes) == 1
    assert any(len(chats) >= 2 for chats in overlap)  # chats really ran side by side
    release.set()
    await lanes.close(grace=5)
    assert finished[-1] == 30 and len(lanes) == 0
