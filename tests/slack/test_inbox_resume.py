"""Acked Slack events are stored first: a process that dies after the ack loses nothing."""

from __future__ import annotations

from bot.slack import build_slack_app
from tests.slack.conftest import HELP_CHANNEL, Harness, new_ts, unique
from tests.slack.test_flows import PASSWORD_Q, posts


def test_acked_events_are_answered_by_the_next_start_in_thread_order(harness: Harness) -> None:
    h, user = harness, unique("U")
    h.adapter.worker.stop(0)  # the process dies right after acking: nothing drains the inbox
    root = new_ts()
    threads = [root, new_ts()]
    bodies = [
        h.event_body(h.message_event(PASSWORD_Q, HELP_CHANNEL, user=user, ts=root)),
        h.event_body(h.message_event(PASSWORD_Q, HELP_CHANNEL, user=user, ts=threads[1])),
        h.event_body(
            h.message_event("and on mobile?", HELP_CHANNEL, user=user, thread_ts=root)
        ),  # fmt: skip
    ]
    for body in bodies:
        assert h.dispatch(body).status == 200
    assert not posts(h, HELP_CHANNEL, root) and h.adapter.inbox.open_count("slack") >= 3
    # The restart: a new app on the same database resumes every acked event.
    fresh = Harness(h.deskhand, build_slack_app(h.deskhand, h.adapter.client), h.fake)
    fresh.adapter.worker.start()
    fresh.idle()
    fresh.adapter.stop(5)
    assert len(posts(h, HELP_CHANNEL, root)) == 2 and len(posts(h, HELP_CHANNEL, threads[1])) == 1
    # Retries of the same events after the restart change nothing.
    for body in bodies:
        retry = {"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}
        assert fresh.dispatch(body, headers=retry).status == 200
    fresh.idle()
    assert len(posts(h, HELP_CHANNEL, root)) == 2 and len(posts(h, HELP_CHANNEL, threads[1])) == 1


def test_an_answer_recorded_but_never_sent_is_delivered_on_resume(harness: Harness) -> None:
    """The attempt died between the service's commit and keeping the reply: rebuild, send once."""
    from sqlalchemy import update
    from sqlmodel import Session

    from bot.contracts import IncomingMessage, Member
    from bot.models import InboxEvent

    h, user, ts = harness, unique("U"), new_ts()
    event = h.message_event(PASSWORD_Q, HELP_CHANNEL, user=user, ts=ts)
    recorded = h.deskhand.service.handle(
        IncomingMessage("slack", HELP_CHANNEL, ts, ts, PASSWORD_Q, Member(user, "Ann"))
    )
    assert recorded.route == "answer" and not posts(h, HELP_CHANNEL, ts)
    h.adapter.worker.stop(0)  # nothing drains while the crashed state is set up
    assert h.adapter.inbox.put("slack", f"msg:{HELP_CHANNEL}:{ts}", "message",
                               {"event": event, "mention": False}, f"{HELP_CHANNEL}:{ts}")  # fmt: skip
    with Session(h.deskhand.engine) as session:  # claimed once by the process that died
        session.execute(
            update(InboxEvent)
            .where(InboxEvent.event_key == f"msg:{HELP_CHANNEL}:{ts}")
            .values(attempts=1)
        )
        session.commit()
    fresh = Harness(h.deskhand, build_slack_app(h.deskhand, h.adapter.client), h.fake)
    fresh.adapter.worker.start()
    fresh.idle()
    fresh.adapter.stop(5)
    [sent] = posts(h, HELP_CHANNEL, ts)
    assert sent.params["text"].startswith(recorded.text[:40]) and sent.params["blocks"]
