"""What adapters ask about member threads (is it ours, whose, was this message seen, may they
press), answered here so Slack, Discord and the console hold no SQL and no policy of their own."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.contracts import PressCheck, Reply, ThreadView
from bot.models import Conversation, Message
from bot.policy import Actor, Policy
from bot.replay import resume_reply

# Platforms where anyone writing in the bot's thread gets an answer; elsewhere (Discord) only the
# member who asked does, unless they mention the bot (others chat there among themselves).
THREADS_OPEN_TO_ALL = frozenset({"slack"})


def view_of(conv: Conversation) -> ThreadView:
    """The adapter-facing copy of a stored conversation."""
    return ThreadView(
        conversation_id=conv.id or 0,
        key=conv.key,
        platform=conv.platform,
        channel_id=conv.channel_id,
        thread_id=conv.thread_id,
        member_id=conv.member_id,
        member_name=conv.member_name,
        status=conv.status,
    )


class MemberThreads:
    """Look-ups and decisions about member conversations that every front-end needs."""

    def __init__(self, engine: Engine, policy: Policy) -> None:
        self.engine = engine
        self.policy = policy

    def by_key(self, key: str) -> ThreadView | None:
        """The conversation of a platform thread key, if the bot is part of it."""
        with Session(self.engine) as session:
            conv = session.exec(select(Conversation).where(Conversation.key == key)).first()
        return view_of(conv) if conv is not None else None

    def by_id(self, conversation_id: int) -> ThreadView | None:
        """The conversation behind a button (button payloads carry ids; keys can be too long)."""
        with Session(self.engine) as session:
            conv = session.get(Conversation, conversation_id)
        return view_of(conv) if conv is not None else None

    def recorded(self, platform: str, message_id: str, channel_id: str = "") -> bool:
        """True when this platform message was handled before (retries, replays, restarts).

        `channel_id` narrows the match where ids are unique per channel only (Slack's ts).
        """
        if not message_id:
            return False
        stmt = (
            select(Message.id)
            .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
            .where(Message.platform_message_id == message_id)
            .where(Conversation.platform == platform)
        )
        if channel_id:
            stmt = stmt.where(Conversation.channel_id == channel_id)
        with Session(self.engine) as session:
            return session.exec(stmt).first() is not None

    def resume(self, event: Any, key: str, message_id: str) -> Reply | None:
        """The reply to deliver again for a resumed inbox event whose message is recorded."""
        return resume_reply(self.engine, event, key, message_id)

    def answers(
        self,
        platform: str,
        channel_id: str,
        author_id: str,
        *,
        mentioned: bool,
        thread_key: str = "",
        channel_type: str = "",
    ) -> bool:
        """Whether the bot answers this message: a mention, its own thread, or a help channel.

        `thread_key` is the key of the thread the message was written in ('' at top level).
        """
        thread = self.by_key(thread_key) if thread_key else None
        if thread is not None:
            open_to_all = platform in THREADS_OPEN_TO_ALL
            return mentioned or open_to_all or author_id == thread.member_id
        return mentioned or self.policy.answers_everything(platform, channel_id, channel_type)

    def may_press(
        self, actor: Actor, button: str, *, key: str = "", conversation_id: int | None = None
    ) -> PressCheck:
        """A member button on the conversation named by `key` or `conversation_id`: allowed?"""
        thread = self.by_id(conversation_id) if conversation_id is not None else self.by_key(key)
        if thread is None:
            return PressCheck(None)
        verdict = self.policy.may_press(actor, button, thread.member_id)
        return PressCheck(thread, "" if verdict else verdict.reason)
