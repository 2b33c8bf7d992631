"""End to end through App.dispatch: signed Slack payloads in, exact Web API calls out."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, select

from bot.models import Feedback, Message, Ticket
from tests.slack.conftest import HELP_CHANNEL, STAFF_CHANNEL, Harness, new_ts, unique
from tests.slack.fake_slack import Call

PASSWORD_Q = "how do I reset my password?"


def posts(h: Harness, channel: str, thread_ts: str | None = None) -> list[Call]:
    """chat.postMessage calls to a channel (and thread)."""
    return [
        c
        for c in h.fake.of("chat.postMessage")
        if c.params.get("channel") == channel
        and (thread_ts is None or c.params.get("thread_ts") == thread_ts)
    ]


def buttons(call: Call) -> list[dict[str, Any]]:
    blocks = call.params.get("blocks") or []
    return [e for b in blocks if b.get("type") == "actions" for e in b["elements"]]


def as_message(call: Call) -> dict[str, Any]:
    """The message a recorded chat.postMessage created, as Slack puts it in action payloads."""
    message = {
        "type": "message",
        "ts": call.response["ts"],
        "text": call.params.get("text", ""),
        "blocks": call.params.get("blocks") or [],
        "bot_id": "B0001",
    }
    if call.params.get("thread_ts"):
        message["thread_ts"] = call.params["thread_ts"]
    return message


def ask(h: Harness, text: str, channel: str, user: str, mention: bool = True) -> tuple[str, str]:
    """A member message (an app_mention by default); returns (ts, conversation key)."""
    ts = new_ts()
    body = f"<@UBOT> {text}" if mention else text
    kind = "app_mention" if mention else "message"
    h.event(h.message_event(body, channel, user=user, ts=ts, kind=kind))
    h.idle()
    return ts, f"slack:{channel}:{ts}"


def escalate(h: Harness, channel: str, user: str) -> tuple[str, Ticket, Call]:
    """Ask, then press 'Talk to a person'; returns (thread ts, ticket, card call)."""
    ts, key = ask(h, PASSWORD_Q, channel, user)
    answer = posts(h, channel, ts)[-1]
    human = next(b for b in buttons(answer) if b["action_id"] == "deskhand:human")
    h.press("deskhand:human", human["value"], user, channel, as_message(answer))
    h.idle()
    card = [c for c in posts(h, STAFF_CHANNEL) if "Escalation #" in c.params.get("text", "")][-1]
    with Session(h.deskhand.engine) as session:
        ticket = session.exec(
            select(Ticket).where(Ticket.staff_thread_id == card.response["ts"])
        ).one()
    return ts, ticket, card


def test_mention_is_answered_in_thread_with_sources_and_buttons(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    ts, key = ask(h, PASSWORD_Q, channel, user)
    [answer] = posts(h, channel, ts)
    assert answer.params["channel"] == channel and answer.params["thread_ts"] == ts
    blocks = json.dumps(answer.params["blocks"])
    assert "Sources:" in blocks and "<https://help.lumen.example/articles/reset-password|" in blocks
    assert [b["action_id"] for b in buttons(answer)] == [
        "deskhand:helpful",
        "deskhand:not_helpful",
        "deskhand:human",
    ]
    assert {b["value"] for b in buttons(answer)} == {key}
    adds = [c for c in h.fake.of("reactions.add") if c.params["timestamp"] == ts]
    assert adds and adds[0].params["name"] == "eyes"
    # "Helpful" is recorded and the buttons are removed from the answer.
    h.press("deskhand:helpful", key, user, channel, as_message(answer))
    h.idle()
    [update] = [c for c in h.fake.of("chat.update") if c.params["ts"] == answer.response["ts"]]
    assert not buttons(update) and "Marked helpful" in json.dumps(update.params["blocks"])
    with Session(h.deskhand.engine) as session:
        kinds = session.exec(select(Feedback.kind).where(Feedback.user_id == user)).all()
    assert kinds == ["helpful"]


def test_help_channel_answers_without_mention_and_thread_follow_ups(harness: Harness) -> None:
    h, user = harness, unique("U")
    ts, _ = ask(h, PASSWORD_Q, HELP_CHANNEL, user, mention=False)
    assert len(posts(h, HELP_CHANNEL, ts)) == 1
    # A channel enabled from settings behaves the same.
    channel = unique("C")
    h.deskhand.settings.update_channel("slack", channel, actor="test", enabled=True)
    ts2, _ = ask(h, PASSWORD_Q, channel, unique("U"), mention=False)
    assert len(posts(h, channel, ts2)) == 1
    # Elsewhere, an unmentioned message is left alone ...
    quiet = unique("C")
    root, _ = ask(h, PASSWORD_Q, quiet, unique("U"), mention=False)
    assert posts(h, quiet) == []
    # ... but a follow-up in a thread the bot is part of continues the conversation.
    other, user = unique("C"), unique("U")
    root, key = ask(h, PASSWORD_Q, other, user)
    h.event(h.message_event("and on mobile?", other, user=user, thread_ts=root))
    h.idle()
    assert len(posts(h, other, root)) == 2


def test_bots_edits_subtypes_and_own_messages_are_ignored(harness: Harness) -> None:
    h = harness
    channel = HELP_CHANNEL
    before = len(h.fake.of("chat.postMessage"))
    h.event(h.message_event("hi from a bot", channel, user="UOTHERBOT", bot_id="B9"))
    h.event(h.message_event("mine", channel, user="UBOT"))
    h.event(h.message_event("edited", channel, subtype="message_changed"))
    h.event(h.message_event("joined", channel, subtype="channel_join"))
    h.event(h.message_event("fixed typo", channel, edited={"user": "UMEMBER", "ts": "1.0"}))
    h.event({"type": "reaction_added", "user": "U1", "reaction": "tada", "item": {}})
    h.idle()
    assert len(h.fake.of("chat.postMessage")) == before


def test_retries_and_double_delivery_never_answer_twice(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    ts = new_ts()
    event = h.message_event(f"<@UBOT> {PASSWORD_Q}", channel, user=user, ts=ts, kind="app_mention")
    body = h.event_body(event, "EvRETRY1")
    assert h.dispatch(body).status == 200
    retry = {"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}
    assert h.dispatch(body, headers=retry).status == 200
    # The same message also arrives as a plain `message` event with another event id.
    plain = {**event, "type": "message"}
    assert h.dispatch(h.event_body(plain)).status == 200
    h.idle()
    assert len(posts(h, channel, ts)) == 1
    # After a restart (a fresh app, nothing in memory) the database still knows the message.
    from bot.slack import build_slack_app

    fresh = Harness(h.deskhand, build_slack_app(h.deskhand, h.adapter.client), h.fake)
    assert fresh.dispatch(h.event_body(event), headers={"x-slack-retry-num": "2"}).status == 200
    fresh.idle()
    fresh.adapter.stop(5)
    assert len(posts(h, channel, ts)) == 1


def test_member_input_is_escaped(harness: Harness) -> None:
    h, user = harness, unique("U")
    channel = unique("C")
    _, ticket, card = escalate(h, channel, user)
    member_thread = ticket.member_thread_id
    h.event(h.message_event("<!channel> <@U0BOSS> look <https://evil.example|here>", channel,
                            user=user, thread_ts=member_thread))  # fmt: skip
    h.idle()
    relayed = posts(h, STAFF_CHANNEL, card.response["ts"])[-1].params["text"]
    assert "<!channel>" not in relayed and "<@U0BOSS>" not in relayed
    assert "<https://evil" not in relayed and "@channel" in relayed
    for call in h.fake.of("chat.postMessage") + h.fake.of("chat.update"):
        assert "<!channel>" not in json.dumps(call.params)


def test_clarify_buttons_then_option_gives_an_answer(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    ts, key = ask(h, "billing", channel, user)
    [clarify] = posts(h, channel, ts)
    options = [b for b in buttons(clarify) if b["action_id"].startswith("deskhand:option:")]
    assert len(options) >= 2 and options[0]["value"].startswith(key + "|")
    assert any(b["action_id"] == "deskhand:human" for b in buttons(clarify))
    h.press(options[0]["action_id"], options[0]["value"], user, channel, as_message(clarify))
    h.idle()
    [update] = [c for c in h.fake.of("chat.update") if c.params["ts"] == clarify.response["ts"]]
    assert "picked" in json.dumps(update.params["blocks"]) and not buttons(update)
    answer = posts(h, channel, ts)[-1]
    assert answer is not clarify and answer.params["thread_ts"] == ts
    assert "deskhand:helpful" in [b["action_id"] for b in buttons(answer)]
    assert "Sources:" in json.dumps(answer.params["blocks"])


def test_escalation_card_transcript_and_relay_both_ways(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    ts, ticket, card = escalate(h, channel, user)
    card_ts = card.response["ts"]
    # The member is told a person will follow up, in their thread, without buttons.
    notice = posts(h, channel, ts)[-1]
    assert "person" in notice.params["text"].lower() and not buttons(notice)
    # The card carries the context and the desk buttons.
    blocks = json.dumps(card.params["blocks"], ensure_ascii=False)
    for expected in (
        f"<@{user}>",
        f"<#{channel}>",
        "Confidence",
        "Sentiment",
        "Severity",
        "member_requested_human",
        f"https://example.slack.com/archives/{channel}/p",
    ):
        assert expected in blocks, expected  # fmt: skip
    assert [b["action_id"] for b in buttons(card)] == [
        "deskhand:claim",
        "deskhand:resolve",
        "deskhand:handback",
    ]
    assert h.fake.of("chat.getPermalink")[-1].params["channel"] == channel
    transcript, *_assist = posts(h, STAFF_CHANNEL, card_ts)  # then agent assist's draft
    assert (
        "Transcript" in transcript.params["text"]
        and "reset my password" in transcript.params["text"]
    )
    assert ticket.staff_channel_id == STAFF_CHANNEL and ticket.staff_thread_id == card_ts
    # Staff reply in the card thread -> member thread, under the staff member's name.
    h.event(h.message_event("Try the link in your email.", STAFF_CHANNEL, user="USTAFF",
                            thread_ts=card_ts))  # fmt: skip
    h.idle()
    relayed = posts(h, channel, ts)[-1]
    assert relayed.params["text"] == "Try the link in your email."
    assert relayed.params["username"] == "Sam Staff (staff)"
    # An internal note stays in the staff thread and is marked with a lock.
    before = len(posts(h, channel))
    note_ts = new_ts()
    h.event(h.message_event("// check the auth logs first", STAFF_CHANNEL, user="USTAFF",
                            ts=note_ts, thread_ts=card_ts))  # fmt: skip
    h.idle()
    assert len(posts(h, channel)) == before
    assert any(
        c.params["timestamp"] == note_ts and c.params["name"] == "lock"
        for c in h.fake.of("reactions.add")
    )
    # A member reply while escalated goes to the staff thread; the bot does not answer.
    h.event(h.message_event("Thanks, the email never came", channel, user=user, thread_ts=ts))
    h.idle()
    assert len(posts(h, channel)) == before
    to_staff = posts(h, STAFF_CHANNEL, card_ts)[-1].params["text"]
    assert "(member):* Thanks, the email never came" in to_staff


def test_claim_resolve_rating_and_kb_candidate(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    ts, ticket, card = escalate(h, channel, user)
    card_ts = card.response["ts"]
    card_msg = as_message(card)
    # A member cannot work the desk.
    h.press("deskhand:claim", str(ticket.id), user, STAFF_CHANNEL, card_msg)
    h.idle()
    assert h.fake.of("chat.postEphemeral")[-1].params["user"] == user
    assert h.deskhand.desk.get(ticket.id).status == "open"
    # Claim shows the owner on the card.
    h.press("deskhand:claim", str(ticket.id), "USTAFF", STAFF_CHANNEL, card_msg)
    h.idle()
    assert h.deskhand.desk.get(ticket.id).claimed_by == "USTAFF"
    update = [c for c in h.fake.of("chat.update") if c.params["ts"] == card_ts][-1]
    assert "Claimed by <@USTAFF>" in json.dumps(update.params["blocks"])
    assert "deskhand:claim" not in [b["action_id"] for b in buttons(update)]
    assert "picked this up" in posts(h, channel, ts)[-1].params["text"]
    h.event(h.message_event("Reset it from Settings > Security, then sign in again.",
                            STAFF_CHANNEL, user="USTAFF", thread_ts=card_ts))  # fmt: skip
    h.idle()
    # Resolve closes the ticket, redraws the card and asks the member for a rating.
    h.press("deskhand:resolve", str(ticket.id), "USTAFF", STAFF_CHANNEL, card_msg)
    h.idle()
    assert h.deskhand.desk.get(ticket.id).status == "resolved"
    update = [c for c in h.fake.of("chat.update") if c.params["ts"] == card_ts][-1]
    assert "Resolved by <@USTAFF>" in json.dumps(update.params["blocks"]) and not buttons(update)
    prompt = posts(h, channel, ts)[-1]
    rate = buttons(prompt)
    assert [b["value"] for b in rate] == [f"{ticket.id}:{n}" for n in range(1, 6)]
    candidates = h.deskhand.kb.list_candidates()
    assert any(c.ticket_id == ticket.id and "Settings" in c.answer for c in candidates)
    # Only the member can rate; their rating is recorded once.
    h.press(rate[4]["action_id"], rate[4]["value"], "USTAFF", channel, as_message(prompt))
    h.press(rate[4]["action_id"], rate[4]["value"], user, channel, as_message(prompt))
    h.idle()
    with Session(h.deskhand.engine) as session:
        ratings = session.exec(select(Feedback).where(Feedback.ticket_id == ticket.id)).all()
    assert [(r.rating, r.user_id) for r in ratings] == [(5, user)]
    update = [c for c in h.fake.of("chat.update") if c.params["ts"] == prompt.response["ts"]]
    assert update and not buttons(update[-1])


def test_hand_back_lets_the_bot_answer_again(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    ts, ticket, card = escalate(h, channel, user)
    h.press("deskhand:handback", str(ticket.id), "USTAFF", STAFF_CHANNEL, as_message(card))
    h.idle()
    assert h.deskhand.desk.get(ticket.id).status == "handed_back"
    update = [c for c in h.fake.of("chat.update") if c.params["ts"] == card.response["ts"]][-1]
    assert "Handed back" in json.dumps(update.params["blocks"])
    h.event(h.message_event(PASSWORD_Q, channel, user=user, thread_ts=ts))
    h.idle()
    last = posts(h, channel, ts)[-1]
    assert "deskhand:helpful" in [b["action_id"] for b in buttons(last)]


def test_not_helpful_escalates_with_reason(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    ts, key = ask(h, PASSWORD_Q, channel, user)
    answer = posts(h, channel, ts)[-1]
    h.press("deskhand:not_helpful", key, user, channel, as_message(answer))
    h.idle()
    card = [c for c in posts(h, STAFF_CHANNEL) if f"<@{user}>" in c.params.get("text", "")][-1]
    assert "not_helpful" in json.dumps(card.params["blocks"])
    # Someone else pressing the member's buttons is told no.
    h.press("deskhand:human", key, "USOMEONE", channel, as_message(answer))
    h.idle()
    assert h.fake.of("chat.postEphemeral")[-1].params["user"] == "USOMEONE"


def test_shadow_channel_shows_staff_not_member(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    h.deskhand.settings.update_channel("slack", channel, actor="test", enabled=True, shadow=True)
    ts, _ = ask(h, PASSWORD_Q, channel, user, mention=False)
    assert posts(h, channel) == []
    assert not [c for c in h.fake.of("reactions.add") if c.params["channel"] == channel]
    shadow = posts(h, STAFF_CHANNEL)[-1]
    assert "Shadow mode" in json.dumps(shadow.params["blocks"])


def test_staff_answer_in_a_shadow_thread_is_recorded_not_drafted_for(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    h.deskhand.settings.update_channel("slack", channel, actor="test", enabled=True, shadow=True)
    root, _ = ask(h, PASSWORD_Q, channel, user, mention=False)
    drafts = len(posts(h, STAFF_CHANNEL))
    reply = "Use Forgot password on the sign-in page; the emailed link works for an hour."
    h.event(h.message_event(reply, channel, user="USTAFF", thread_ts=root))
    h.idle()
    assert posts(h, channel) == [] and len(posts(h, STAFF_CHANNEL)) == drafts  # no new draft
    with Session(h.deskhand.engine) as session:
        rows = session.exec(select(Message).where(Message.author_id == "USTAFF")).all()
    assert [(m.role, m.kind) for m in rows if m.text == reply] == [("staff", "shadow_reply")]


def test_a_secret_in_a_staff_answer_in_a_shadow_thread_gets_the_rotation_notice(
    harness: Harness,
) -> None:
    """The shadow path records a staff answer instead of running the graph; a secret in it is
    still dropped from the record and its writer told privately to rotate it."""
    h, channel, user = harness, unique("C"), unique("U")
    h.deskhand.settings.update_channel("slack", channel, actor="test", enabled=True, shadow=True)
    root, _ = ask(h, PASSWORD_Q, channel, user, mention=False)
    key = "sk_live_51Hx9Qa8bC7dE6fG5hJ4kL3m"
    h.event(h.message_event(f"Use the test key {key} to check", channel, "USTAFF", thread_ts=root))
    h.idle()
    assert posts(h, channel) == []  # still shadow mode: nothing posted in the member's thread
    warned = [c for c in h.fake.of("chat.postEphemeral") if c.params["channel"] == channel]
    assert [(c.params["user"], c.params.get("thread_ts")) for c in warned] == [("USTAFF", root)]
    assert "rotate" in warned[0].params["text"]
    with Session(h.deskhand.engine) as session:
        rows = session.exec(select(Message).where(Message.author_id == "USTAFF")).all()
    recorded = [m for m in rows if m.kind == "shadow_reply" and "Use the test key" in m.text]
    assert len(recorded) == 1 and key not in recorded[0].text and "[api key]" in recorded[0].text


def test_small_talk_and_off_topic_never_reach_the_staff_channel(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    cards_before = len(posts(h, STAFF_CHANNEL))
    hello, _ = ask(h, "hi there", channel, user)
    [greeting] = posts(h, channel, hello)
    assert greeting.params["text"].startswith("Hi!") and buttons(greeting) == []
    joke, _ = ask(h, "tell me a joke", channel, unique("U"))
    [decline] = posts(h, channel, joke)
    assert "outside what I can help with" in decline.params["text"]
    assert [b["action_id"] for b in buttons(decline)] == ["deskhand:human"]
    # "thanks, that worked" in the thread of an answer: acknowledged and recorded as confirmed
    root, key = ask(h, PASSWORD_Q, channel, user)
    h.event(h.message_event("thanks, that worked!", channel, user=user, thread_ts=root))
    h.idle()
    thread = posts(h, channel, root)
    assert len(thread) == 2 and "solved" in thread[-1].params["text"]
    assert len(posts(h, STAFF_CHANNEL)) == cards_before
    with Session(h.deskhand.engine) as session:
        kinds = [
            f.kind
            for f in session.exec(select(Feedback))
            if f.user_id == user and f.kind == "confirmed"
        ]
    assert kinds == ["confirmed"]


def test_near_domain_chatter_is_declined_in_the_thread_without_a_staff_card(
    harness: Harness,
) -> None:
    h, channel = harness, unique("C")
    cards_before = len(posts(h, STAFF_CHANNEL))
    root, _ = ask(h, "how much pto have i used", channel, unique("U"))
    [decline] = posts(h, channel, root)
    assert "outside what I can help with" in decline.params["text"]
    assert [b["action_id"] for b in buttons(decline)] == ["deskhand:human"]
    assert len(posts(h, STAFF_CHANNEL)) == cards_before


def test_follow_up_in_the_thread_is_answered_from_the_same_article(harness: Harness) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    root, _ = ask(h, "my parcel arrived damaged, can I claim a refund?", channel, user)
    [first] = posts(h, channel, root)
    assert "articles/refunds" in json.dumps(first.params["blocks"])
    h.event(h.message_event("how long does that take?", channel, user=user, thread_ts=root))
    h.idle()
    thread = posts(h, channel, root)
    assert len(thread) == 2
    assert "articles/refunds" in json.dumps(thread[-1].params["blocks"])
    assert [b["action_id"] for b in buttons(thread[-1])][0] == "deskhand:helpful"


def test_a_new_topic_after_a_clarifying_question_is_answered_in_the_thread(
    harness: Harness,
) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    root, _ = ask(h, "a billing thing", channel, user)
    [clarify] = posts(h, channel, root)
    assert any(b["action_id"].startswith("deskhand:option:") for b in buttons(clarify))
    # an ambiguous reply is still a reply to the clarifying question: asked again, with options
    h.event(h.message_event("the one about my card", channel, user=user, thread_ts=root))
    h.idle()
    again = posts(h, channel, root)[-1]
    assert again is not clarify
    assert any(b["action_id"].startswith("deskhand:option:") for b in buttons(again))
    # a clear question of its own is answered as it would be alone, in the same thread
    h.event(h.message_event("my hub arrived broken", channel, user=user, thread_ts=root))
    h.idle()
    thread = posts(h, channel, root)
    assert len(thread) == 3
    assert "articles/hub-shipping-returns" in json.dumps(thread[-1].params["blocks"])
    assert [b["action_id"] for b in buttons(thread[-1])][0] == "deskhand:helpful"


def test_a_question_in_another_language_is_escalated_with_its_language_on_the_card(
    harness: Harness,
) -> None:
    h, channel, user = harness, unique("C"), unique("U")
    root, _ = ask(h, "Meine Karte wurde abgelehnt, was soll ich tun?", channel, user)
    [notice] = posts(h, channel, root)
    assert notice.params["text"].startswith("Ich hole eine Person dazu.")
    card = [c for c in posts(h, STAFF_CHANNEL) if "Escalation #" in c.params.get("text", "")][-1]
    fields = [
        f["text"] for b in card.params["blocks"] if b.get("type") == "section"
        for f in b.get("fields") or []
    ]  # fmt: skip
    assert "*Language*\nGerman" in fields
