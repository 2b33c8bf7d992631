"""SupportService: one member message in, one Reply out, everything recorded. Platform-neutral."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot import conversation_state, revisions
from bot.abuse import AbuseGate
from bot.abuse.gate import LIVE_PLATFORMS, limits_of
from bot.abuse.hold import hold, join_open_ticket, open_ticket_of_member
from bot.contracts import (
    MAX_STORED_CHARS,
    Button,
    Citation,
    IncomingMessage,
    Member,
    Option,
    Reply,
    Route,
    needs_cleaning,
    storable_text,
    stored_copy,
)
from bot.db import insert_row
from bot.desk import EscalationDesk
from bot.experiments import Experiments
from bot.llm.recorder import conversation_scope
from bot.member_threads import MemberThreads
from bot.models import Conversation, Decision, Feedback, Message, Ticket
from bot.monitoring.hours import with_next_reply
from bot.monitoring.tiers import member_tier
from bot.policy import Policy
from bot.privacy.edge import apply_outcome, redact_message
from bot.repeat_contact import prior_unresolved
from bot.runtime_settings import SettingsStore
from bot.shadow import StaffCheck, record_shadow_reply
from bot.tickets import reopen_for
from graph.deps import GraphDeps
from graph.turns import NONE_FIT_OPTION, TurnInput, TurnKind
from knowledge.models import utcnow

if TYPE_CHECKING:  # the app wires it in; tests of the service alone run without it
    from bot.candidate_parts import CandidateParts

log = logging.getLogger(__name__)

BUTTON_TURNS = {
    "helpful": TurnKind.THANKS,
    "not_helpful": TurnKind.NOT_HELPFUL,
    "human": TurnKind.ASK_PERSON,
}
ANSWER_BUTTONS = [
    Button("helpful", "Helpful"),
    Button("not_helpful", "Not helpful"),
    Button("human", "Talk to a person"),
]


# the turn's change to its conversation (status, issue type, updated_at): SET takes the given keys
_CONVERSATION_UPDATE = update(Conversation).where(col(Conversation.id) == bindparam("conv_id"))


class SupportService:
    """Runs the graph for each message and persists conversation, decision and ticket."""

    def __init__(
        self,
        engine: Engine,
        graph: Any,
        deps_factory: Callable[[], GraphDeps],
        settings: SettingsStore,
        desk: EscalationDesk,
        policy: Policy,
    ) -> None:
        self.engine = engine
        self.threads = MemberThreads(engine, policy)  # what adapters ask about member threads
        self.graph = graph
        self.deps_factory = deps_factory
        self.settings = settings
        self.desk = desk
        self.gate = AbuseGate()
        self.experiments = Experiments(engine)
        # set by the app: the candidate arm's drafts and scope (None: thresholds/persona only)
        self.candidate_parts: CandidateParts | None = None
        # set by the app: (settings, channel_id) -> short config hash recorded on each decision
        self.version_stamp: Callable[[SettingsStore, str], str] = lambda _s, _c: ""
        # set by the app from its Policy: is this author staff? (shadow channels record their replies)
        self.is_staff: StaffCheck = lambda _p, _m: False
        # set by evaluations: sees (conversation key, the graph's whole final state) every turn
        self.on_turn: Callable[[str, dict[str, Any]], None] | None = None

    # ---- member messages -------------------------------------------------------------------
    def handle(self, msg: IncomingMessage) -> Reply:
        """Answer, clarify or escalate one member message (or relay it if a person has it)."""
        started = time.perf_counter()
        settings = self.settings.snapshot()
        msg, redaction = redact_message(storable_message(msg), settings.get("privacy"))
        held = self.gate.check(
            msg, limits_of(settings.get("rate_limits")), settings.get("blocked_members") or {}
        )
        if held is not None:
            return apply_outcome(hold(self, msg, held), msg, redaction)
        shadow = bool(settings.channel(msg.platform, msg.channel_id).get("shadow"))
        if (human := record_shadow_reply(self.engine, msg, shadow, self.is_staff)) is not None:
            return apply_outcome(human, msg, redaction)  # a pasted secret: warn them to rotate it
        conv = self._conversation(msg)
        if conv.status == "resolved" and (reopened := reopen_for(self.engine, conv, msg)):
            reply = self._relay_to_staff(conv, msg)
            reply.relay_text = f"(reopened ticket #{reopened.id}) {reply.relay_text}"
            reply.reasons, reply.deliver_now = ["reopened"], True
            return apply_outcome(reply, msg, redaction)
        if conv.status == "escalated":
            return apply_outcome(self._relay_to_staff(conv, msg), msg, redaction)
        return apply_outcome(
            self._run(conv, msg, TurnInput.typed(msg.text), started, settings), msg, redaction
        )

    def handle_action(
        self, conversation_key: str, action: str, value: str, member: Member, platform: str = ""
    ) -> Reply:
        """A member pressed a button: feedback, a clarifying option, 'Talk to a person' or a rating."""
        if action == "rate":
            return self._rate(conversation_key, value, member)
        turn = turn_for_button(action, value)
        if turn is None:
            return Reply(route="notice", text=f"Unknown action {action!r}.")
        return self.handle_turn(conversation_key, turn, member, platform)

    def handle_turn(
        self, conversation_key: str, turn: TurnInput, member: Member, platform: str = ""
    ) -> Reply:
        """Run one button turn (option, not helpful, ask for a person, thanks) on a conversation."""
        started = time.perf_counter()
        conv = self._conversation_by_key(conversation_key)
        if conv is None:
            return Reply(route="notice", text="That conversation has expired. Please ask again.")
        if turn.kind is TurnKind.THANKS:
            self._feedback(conv, "helpful", member.user_id)
            self._set_status(conv, "resolved")
            return Reply(route="notice", text="Thanks, glad that helped!", conversation_id=conv.id)
        if conv.status == "escalated":
            ticket = self.desk.open_ticket_for(conv.id or 0)
            return Reply(
                route="notice",
                text="A person already has this conversation and will reply here.",
                conversation_id=conv.id,
                ticket_id=ticket.id if ticket else None,
            )
        msg = IncomingMessage(
            platform=platform or conv.platform,
            channel_id=conv.channel_id,
            thread_id=conv.thread_id,
            message_id="",
            text=turn.text,
            member=member,
        )
        msg = storable_message(msg)
        if turn.kind is TurnKind.NOT_HELPFUL:
            self._feedback(conv, "not_helpful", member.user_id)
        return self._run(conv, msg, turn, started)

    def _commit_first(self, session: Session, msg: IncomingMessage) -> bool:
        """Commit; False when another worker recorded this platform message first (unique index)."""
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            if not self.already_recorded(msg.platform, msg.message_id):
                raise
            return False
        return True

    def already_recorded(self, platform: str, platform_message_id: str) -> bool:
        """True when this platform message was handled before (retries, gateway replays)."""
        return self.threads.recorded(platform, platform_message_id)

    def _conversation_by_key(self, conversation_key: str) -> Conversation | None:
        with Session(self.engine) as session:
            return session.exec(
                select(Conversation).where(Conversation.key == conversation_key)
            ).first()

    def _rate(self, conversation_key: str, value: str, member: Member) -> Reply:
        """A member rated a resolved ticket ('TICKET_ID:RATING')."""
        conv = self._conversation_by_key(conversation_key)
        if conv is None:
            return Reply(route="notice", text="That conversation has expired. Please ask again.")
        ticket_id, _, rating = value.partition(":")
        self.desk.record_rating(int(ticket_id), int(rating), member.user_id)
        return Reply(
            route="notice", text=f"Thanks for rating us {rating}/5.", conversation_id=conv.id
        )

    def conversation(self, conversation_id: int) -> Conversation | None:
        """A conversation by id (button payloads carry ids; keys can be too long)."""
        with Session(self.engine) as session:
            return session.get(Conversation, conversation_id)

    # ---- internals -----------------------------------------------------------------------------
    def _run(
        self,
        conv: Conversation,
        msg: IncomingMessage,
        turn: TurnInput,
        started: float,
        snapshot: SettingsStore | None = None,
    ) -> Reply:
        """One graph turn; a typed message passes the settings snapshot it was gated with (one read)."""
        assignment = self.experiments.assignment(conv)
        snapshot = snapshot if snapshot is not None else self.settings.snapshot()
        settings = self.experiments.settings_for(snapshot, assignment)
        channel_cfg = settings.channel(msg.platform, msg.channel_id)
        tier = msg.member.tier or (
            "vip" if settings.is_vip(msg.platform, msg.member.user_id) else ""
        )
        state_in: dict[str, Any] = {
            **turn.as_state(),
            "text": turn.text[:MAX_STORED_CHARS],
            "member": {
                "user_id": msg.member.user_id,
                "display_name": msg.member.display_name,
                "tier": tier,
            },
            "channel": {
                "platform": msg.platform,
                "channel_id": msg.channel_id,
                "name": msg.channel_name,
            },
            **self._prior_contacts(conv, settings),
            "thresholds": settings.thresholds(msg.channel_id),
            "persona": settings.persona(),
        }
        candidate = assignment.experiment if assignment and assignment.arm == "candidate" else ""
        with revisions.one_read_per_message(self.engine):  # version and deps share one read
            version = self.version_stamp(settings, msg.channel_id)
            deps = self._deps(candidate)
        if candidate and self.candidate_parts:
            version = self.candidate_parts.version(version, candidate)
        labels = {  # recorded on the decision for monitoring segments
            "member_tier": member_tier(settings, msg.platform, msg.member),
            "bot_version": version,
            "experiment": assignment.experiment if assignment else "",
            "arm": assignment.arm if assignment else "",
        }
        remember = True  # the turn's memory is stored with its record (not after a failure)
        try:
            if deps is None:
                raise RuntimeError("the graph's dependencies could not be built")
            memory = conversation_state.load(self.engine, conv.id or 0)
            with conversation_scope(conv.id):
                out = self.graph.invoke({**memory, **state_in}, context=deps)
        except Exception:
            log.exception("graph failed for %s", conv.key)
            out = _fallback_state(turn.text if turn.is_typed else self._last_question(conv))
            remember = False
        if self.on_turn is not None:
            self.on_turn(conv.key, out)
        latency_ms = (time.perf_counter() - started) * 1000
        with self.gate.member_locks.get(f"{msg.platform}:{msg.member.user_id}"):
            return self._persist(
                conv,
                msg,
                turn,
                out,
                latency_ms,
                settings,
                bool(channel_cfg.get("shadow")),
                labels,
                remember,
            )

    def _deps(self, candidate: str) -> GraphDeps | None:
        """The graph's parts for this message (None if building them failed: the turn hands off)."""
        try:
            deps = self.deps_factory()
            if candidate and self.candidate_parts:
                deps = self.candidate_parts.deps(deps, candidate)
            return deps
        except Exception:
            log.exception("could not build the graph's dependencies")
            return None

    def _persist(
        self,
        conv: Conversation,
        msg: IncomingMessage,
        turn: TurnInput,
        out: dict[str, Any],
        latency_ms: float,
        settings: SettingsStore,
        shadow: bool,
        labels: dict[str, str] | None = None,
        remember: bool = True,
    ) -> Reply:
        """Record the turn (messages, decision, ticket, status, conversation memory) in one commit."""
        route = cast(Route, out.get("route") or "escalate")  # the graph's routes are Route values
        cls = out.get("classification") or {}
        reasons = list(out.get("reasons") or [])
        escalation = out.get("escalation")
        if route == "escalate" and escalation and not shadow:
            out = {
                **out,
                "reply": with_next_reply(
                    out.get("reply") or "", settings.get("business_hours"), utcnow()
                ),
            }
        try:
            with Session(self.engine) as session:
                recorded = self._record(
                    session, conv, msg, turn, out, route, latency_ms, settings, shadow, labels,
                    remember,
                )  # fmt: skip
                if recorded is None:
                    return recorded_elsewhere(msg, conv.id)
        except IntegrityError:  # another worker recorded this platform message first
            if not self.already_recorded(msg.platform, msg.message_id):
                raise
            return recorded_elsewhere(msg, conv.id)
        decision_id, ticket_id, joined = recorded
        reply = Reply(
            route=route,
            text=out.get("reply") or "",
            conversation_id=conv.id,
            decision_id=decision_id,
            issue_type=cls.get("issue_type", ""),
            confidence=round(float(out.get("confidence") or 0.0), 4),
            reasons=reasons,
            citations=[
                Citation(c["title"], c["url"], c.get("article_id"), c.get("score", 0.0))
                for c in out.get("citations") or []
            ],
            options=[Option(o["label"], o["value"]) for o in out.get("options") or []],
            ticket_id=ticket_id,
            shadow=shadow,
            escalation=escalation,
            latency_ms=round(latency_ms, 2),
        )
        if route == "answer":
            reply.buttons = list(ANSWER_BUTTONS)
        elif route == "clarify" and reply.options:
            reply.buttons = [Button("option", o.label, o.value) for o in reply.options] + [
                ANSWER_BUTTONS[2]
            ]
        elif route == "decline":
            reply.buttons = [ANSWER_BUTTONS[2]]  # off-topic, but a person is one tap away
        if joined is not None and joined.conversation_id != conv.id:
            with Session(self.engine) as session:
                join_open_ticket(session, joined, msg, reply)
                session.commit()
        return reply

    def _record(
        self,
        session: Session,
        conv: Conversation,
        msg: IncomingMessage,
        turn: TurnInput,
        out: dict[str, Any],
        route: Route,
        latency_ms: float,
        settings: SettingsStore,
        shadow: bool,
        labels: dict[str, str] | None,
        remember: bool,
    ) -> tuple[int, int | None, Ticket | None] | None:
        """The turn's writes as Core statements in one transaction: (decision, ticket, joined).

        None when another worker committed this platform message first (nothing is written).
        """
        cls = out.get("classification") or {}
        hits = out.get("hits") or []
        reasons = list(out.get("reasons") or [])
        escalation = out.get("escalation")
        conv_id = conv.id or 0
        conn = session.connection()
        member_msg_id = insert_row(
            conn,
            Message,
            conversation_id=conv_id,
            role="member",
            author_id=msg.member.user_id,
            author_name=msg.member.display_name,
            text=stored_copy(msg.text or turn.describe()),
            kind=turn.kind.value,
            platform_message_id=msg.message_id,
        )
        decision_id = insert_row(
            conn,
            Decision,
            conversation_id=conv_id,
            message_id=member_msg_id,
            platform=msg.platform,
            channel_id=msg.channel_id,
            route=route,
            issue_type=cls.get("issue_type", ""),
            confidence=float(out.get("confidence") or 0.0),
            retrieval_score=float(hits[0]["score"]) if hits else 0.0,
            reasons=json.dumps(reasons),
            top_article_id=hits[0]["article_id"] if hits else None,
            question=(out.get("query") or out.get("clean_text") or "")[:2000],
            latency_ms=latency_ms,
            shadow=shadow,
            member_tier=(labels or {}).get("member_tier", ""),
            bot_version=(labels or {}).get("bot_version", ""),
            experiment=(labels or {}).get("experiment", ""),
            arm=(labels or {}).get("arm", ""),
            language=str(out.get("language") or ""),
            hits=trace_hits(hits),
        )
        insert_row(conn, Message, conversation_id=conv_id, role="bot", text=out.get("reply") or "")
        changes: dict[str, Any] = {}
        ticket_id = None
        joined = None
        if route == "escalate" and escalation and not shadow and msg.platform in LIVE_PLATFORMS:
            joined = open_ticket_of_member(self.engine, msg.platform, msg.member.user_id)
        if joined is not None and joined.conversation_id != conv.id:
            ticket_id = joined.id  # one card per member: the new message joins their ticket
        elif route == "escalate" and escalation and not shadow:
            escalation["staff_channel"] = settings.route_for(
                msg.platform, escalation.get("issue_type", ""), escalation.get("team", "")
            )
            fresh = session.get(Conversation, conv.id)  # the desk marks it escalated
            assert fresh is not None
            ticket = self.desk.open_ticket(session, fresh, escalation, permalink=msg.permalink)
            ticket_id = ticket.id
        elif "confirmed_resolution" in reasons and not shadow:
            changes["status"] = "resolved"  # "thanks, that worked" after an answer
            insert_row(
                conn,
                Feedback,
                conversation_id=conv.id,
                decision_id=decision_id,
                kind="confirmed",
                user_id=msg.member.user_id,
            )
        elif route in ("answer", "clarify"):
            changes["status"] = "answered" if route == "answer" else "open"
        if cls.get("issue_type") and cls.get("in_scope"):
            changes["issue_type"] = cls["issue_type"]
        changes["updated_at"] = utcnow()
        conn.execute(_CONVERSATION_UPDATE, {"conv_id": conv_id, **changes})
        if remember:
            conversation_state.save(conn, conv_id, out)
        if not self._commit_first(session, msg):
            return None
        return decision_id, ticket_id, joined

    def _relay_to_staff(self, conv: Conversation, msg: IncomingMessage) -> Reply:
        with Session(self.engine) as session:
            session.add(
                Message(
                    conversation_id=conv.id or 0,
                    role="member",
                    author_id=msg.member.user_id,
                    author_name=msg.member.display_name,
                    text=stored_copy(msg.text),
                    platform_message_id=msg.message_id,
                )
            )
            if not self._commit_first(session, msg):
                return recorded_elsewhere(msg, conv.id)
        ticket = self.desk.open_ticket_for(conv.id or 0)
        return Reply(
            route="relay",
            text="",
            relay_text=msg.text,
            conversation_id=conv.id,
            ticket_id=ticket.id if ticket else None,
        )

    def _conversation(self, msg: IncomingMessage) -> Conversation:
        """The thread's conversation, created on first contact (a concurrent creator wins once)."""
        find = select(Conversation).where(Conversation.key == msg.conversation_key)
        with Session(self.engine, expire_on_commit=False) as session:
            conv = session.exec(find).first()
            if conv is not None:
                return conv
            conv = Conversation(
                key=msg.conversation_key,
                platform=msg.platform,
                channel_id=msg.channel_id,
                thread_id=msg.thread_id,
                member_id=msg.member.user_id,
                member_name=msg.member.display_name,
            )
            session.add(conv)
            try:
                session.commit()
            except IntegrityError:  # another worker created it a moment ago: use theirs
                session.rollback()
                return session.exec(find).one()
            return conv  # its id came back with the INSERT and its defaults were set here

    def _last_question(self, conv: Conversation) -> str:
        """The member's last typed message in this conversation ('' if they never typed one)."""
        with Session(self.engine) as session:
            text = session.exec(
                select(Message.text)
                .where(Message.conversation_id == conv.id, Message.role == "member")
                .where(Message.kind == TurnKind.TEXT.value)
                .order_by(col(Message.id).desc())
            ).first()
        return text or ""

    def _prior_contacts(self, conv: Conversation, settings: SettingsStore) -> dict[str, Any]:
        """This member's recent unresolved or disputed contacts (bot.repeat_contact), as graph inputs."""
        window = int(settings.get("repeat_window_days") or 7)
        prior = prior_unresolved(self.engine, conv, window)
        return {"prior_unresolved": sorted(prior), "prior_contacts": prior}

    def _feedback(self, conv: Conversation, kind: str, user_id: str) -> None:
        with Session(self.engine) as session:
            last = session.exec(
                select(Decision.id)
                .where(Decision.conversation_id == conv.id)
                .order_by(col(Decision.id).desc())
            ).first()
            session.add(
                Feedback(conversation_id=conv.id, decision_id=last, kind=kind, user_id=user_id)
            )
            session.commit()

    def _set_status(self, conv: Conversation, status: str) -> None:
        with Session(self.engine) as session:
            row = session.get(Conversation, conv.id)
            if row is not None:
                row.status, row.updated_at = status, utcnow()
                session.add(row)
                session.commit()


def trace_hits(hits: list[dict[str, Any]], keep: int = 5) -> str:
    """The retrieved articles as compact JSON, so a trace shows what the bot saw."""
    return json.dumps(
        [
            {
                "article_id": h.get("article_id"),
                "title": str(h.get("title", ""))[:120],
                "score": round(float(h.get("score") or 0.0), 4),
            }
            for h in hits[:keep]
        ]
    )


def recorded_elsewhere(msg: IncomingMessage, conversation_id: int | None) -> Reply:
    """The same platform message was recorded first by another worker: it answers, not us."""
    log.info("%s message %s was already recorded; not answering twice", msg.platform,
             msg.message_id)  # fmt: skip
    return Reply(route="ignore", text="", conversation_id=conversation_id)


def storable_message(msg: IncomingMessage) -> IncomingMessage:
    """The message with every free-text field safe to store in any database."""
    if not needs_cleaning(msg.text + msg.channel_name + msg.member.display_name):
        return msg
    return replace(
        msg,
        text=storable_text(msg.text),
        channel_name=storable_text(msg.channel_name),
        member=replace(msg.member, display_name=storable_text(msg.member.display_name)),
    )


def turn_for_button(action: str, value: str) -> TurnInput | None:
    """The member turn behind a button press (None for an action that is not a member turn)."""
    if action == "option":
        return TurnInput(TurnKind.NONE_FIT) if value == NONE_FIT_OPTION else TurnInput.picked(value)
    kind = BUTTON_TURNS.get(action)
    return TurnInput(kind) if kind else None


def _fallback_state(text: str) -> dict[str, Any]:
    """If the graph itself fails, hand off honestly instead of going silent."""
    notice = (
        "Something went wrong on my side, so I've passed your question to the team. "
        "A person will reply right here in this thread."
    )
    return {
        "route": "escalate",
        "reply": notice,
        "reasons": ["internal_error"],
        "escalation": {
            "reasons": ["internal_error"],
            "question": text,
            "summary": f"The bot failed while handling: {text[:200]}",
            "transcript": [
                {"role": "member", "kind": TurnKind.TEXT.value, "text": text},
                {"role": "bot", "text": notice},
            ],
            "team": "support",
            "severity": "high",
        },
    }
