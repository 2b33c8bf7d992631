"""The member-thread questions every adapter asks the core (bot/member_threads.py), on real SQLite."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.config import Config
from bot.db import make_engine
from bot.member_threads import MemberThreads
from bot.models import AuditEntry, Conversation, Message
from bot.policy import Actor, Policy
from bot.runtime_settings import SettingsStore


@pytest.fixture
def threads(tmp_path) -> MemberThreads:
    """Member threads on a fresh database: one Slack and one Discord member thread, one help channel each."""
    config = Config(home=str(tmp_path), slack_help_channels="CHELP", discord_help_channels="500")
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with Session(engine) as session:
        for platform, channel, thread in (("slack", "C1", "111.1"), ("discord", "10", "20")):
            conv = Conversation(
                key=f"{platform}:{channel}:{thread}",
                platform=platform,
                channel_id=channel,
                thread_id=thread,
                member_id="ana",
                member_name="Ana",
            )
            session.add(conv)
            session.commit()
            session.add(Message(conversation_id=conv.id or 0, role="member", author_id="ana",
                                text="hi", platform_message_id=thread))  # fmt: skip
        session.commit()
    return MemberThreads(engine, Policy(config, SettingsStore(engine), engine))


@pytest.mark.parametrize(
    ("platform", "channel", "author", "mentioned", "thread_key", "expected"),
    [
        ("slack", "C1", "ana", False, "slack:C1:111.1", True),  # the member in the bot's thread
        ("slack", "C1", "bob", False, "slack:C1:111.1", True),  # Slack: anyone in the bot's thread
        ("discord", "10", "ana", False, "discord:10:20", True),
        ("discord", "10", "bob", False, "discord:10:20", False),  # Discord: others chat there
        ("discord", "10", "bob", True, "discord:10:20", True),  # ... unless they mention the bot
        ("discord", "500", "bob", False, "discord:500:99", True),  # help channel, new thread
        ("slack", "C9", "bob", False, "slack:C9:5.5", False),  # an unknown thread elsewhere
        ("slack", "C9", "bob", True, "", True),  # a mention anywhere
        ("slack", "CHELP", "bob", False, "", True),  # a help channel
        ("slack", "C9", "bob", False, "", False),  # chatter in an ordinary channel
        ("discord", "500", "bob", False, "", True),
    ],
)
def test_who_gets_an_answer(threads, platform, channel, author, mentioned, thread_key, expected):
    got = threads.answers(platform, channel, author, mentioned=mentioned, thread_key=thread_key)
    assert got is expected


def test_a_slack_dm_is_always_answered(threads) -> None:
    assert threads.answers("slack", "D1", "bob", mentioned=False, channel_type="im")


def test_recorded_messages_by_platform_and_channel(threads) -> None:
    assert threads.recorded("slack", "111.1")
    assert threads.recorded("slack", "111.1", channel_id="C1")
    assert not threads.recorded("slack", "111.1", channel_id="C2")  # Slack ts is per channel
    assert not threads.recorded("discord", "111.1")
    assert threads.recorded("discord", "20")
    assert not threads.recorded("slack", "")


def test_thread_views_by_key_and_id(threads) -> None:
    view = threads.by_key("discord:10:20")
    assert view is not None and (view.member_id, view.thread_id) == ("ana", "20")
    assert threads.by_id(view.conversation_id) == view
    assert threads.by_key("discord:10:21") is None
    assert threads.by_id(9999) is None


def test_member_buttons_belong_to_the_member_and_refusals_are_audited(threads) -> None:
    ana, bob = Actor("slack", "ana"), Actor("slack", "bob")
    assert threads.may_press(ana, "helpful", key="slack:C1:111.1").allowed
    refused = threads.may_press(bob, "helpful", key="slack:C1:111.1")
    assert not refused.allowed and refused.thread is not None
    assert "person who asked" in refused.refusal
    gone = threads.may_press(ana, "helpful", conversation_id=9999)
    assert gone.thread is None and not gone.allowed
    with Session(threads.engine) as session:
        audits = session.exec(select(AuditEntry).where(AuditEntry.action == "refused")).all()
    assert [a.target for a in audits] == ["button:helpful"]
