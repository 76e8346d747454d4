"""Where a prompt's questionnaire is on screen, known from the prompt's draft alone
(backend/domain/prompt_screen.py): the outbox is read only when the draft cannot tell."""

from __future__ import annotations

from backend.domain.prompt_screen import MAX_REPLACED, OnScreen


def test_a_prompt_never_touched_has_one_copy() -> None:
    screen = OnScreen.from_draft({})
    assert screen.shows(4711) is True  # whichever message it is, it is the prompt message


def test_the_message_pressed_shows_the_step_and_older_copies_do_not() -> None:
    screen = OnScreen.from_draft({}).pressed_on(10).sent_anew(10)  # typed: sent anew below
    assert screen.pressed is None and screen.shows(10) is False
    assert screen.shows(11) is True  # the new copy, whose id the prompt does not know yet
    stored = OnScreen.from_draft({"step": "trend", **screen.to_draft()})
    assert stored == screen and stored.pressed_on(11).shows(11) is True


def test_a_copy_sent_while_the_one_before_was_unknown_leaves_it_to_the_outbox() -> None:
    screen = OnScreen.from_draft({}).sent_anew(None)  # the prompt was still on its way
    assert screen.shows(10) is None
    assert screen.pressed_on(12).shows(12) is True


def test_a_draft_from_before_the_bookkeeping_is_unknown() -> None:
    assert OnScreen.from_draft({"step": "symptoms", "message_id": 5}).shows(6) is None
    assert OnScreen.from_draft({"step": "symptoms", "message_id": 5}).shows(5) is True


def test_many_copies_are_remembered_up_to_a_bound() -> None:
    screen = OnScreen()
    for message_id in range(MAX_REPLACED + 3):
        screen = screen.pressed_on(message_id).sent_anew(message_id)
    assert len(screen.replaced) == MAX_REPLACED and screen.complete is False
    assert screen.shows(MAX_REPLACED + 2) is False  # a recent copy: known
    assert screen.shows(0) is None  # forgotten: the outbox decides
