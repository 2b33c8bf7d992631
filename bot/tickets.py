"""Staff tools on tickets, once for every platform: list, history, transfer, retype, reopen.

Each change ends in a DeskOutcome (bot.desk_outcome) whose parts (the member's notice, the card
to redraw or post again, a notice in a staff thread) are written to the outbox in the change's
own transaction; each platform delivers them like any other desk outcome, in thread order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from bot.audit import record_audit
from bot.contracts import IncomingMessage
from bot.desk import DeskError, ticket_view
from bot.desk_outcome import DeskOutcome, MemberPost, StaffNotice, member_outcome, outbox_items
from bot.improve import flywheel
from bot.models import AuditEntry, Conversation, EscalationStep, IssueType, Message, Ticket
from bot.runtime_settings import SettingsStore
from graph.smalltalk import small_talk_kind
from knowledge.models import utcnow

OPEN_STATUSES = ("open", "claimed")
LISTS = ("open", "unclaimed", "mine", "all")
REOPEN_WINDOW = timedelta(days=14)  # a later message in the thread is a new question
CARD_STEPS = ("card_recorded", "transcript_posted")  # redone when a ticket moves channel
TEAM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


@dataclass
class TicketHistory:
    """One ticket as staff review it: the card's facts, what happened, and the conversation."""

    view: dict[str, Any]
    events: list[tuple[datetime, str]] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    earlier: list[Ticket] = field(default_factory=list)  # the member's other tickets, newest first


@dataclass
class Transfer:
    """What a transfer did, for the command's answer."""

    ticket: Ticket
    team: str
    channel: str
    moved: bool  # the card is re-posted in another staff channel
    audit_id: int
    outcome: DeskOutcome  # already recorded in the outbox for the ticket's platform


@dataclass
class Retype:
    """What an issue-type correction did."""

    ticket: Ticket
    before: str
    example_added: bool
    audit_id: int
    team: str  # the corrected type's team ('' if none)
    outcome: DeskOutcome  # already recorded in the outbox for the ticket's platform
    held_back: bool = False  # the question was kept to measure the classifier on, not trained on


# ---- reading ---------------------------------------------------------------------------------
def age_text(since: datetime | None, now: datetime | None = None) -> str:
    """A short age like 45s, 12m, 3h or 5d."""
    if since is None:
        return "-"
    seconds = max(0, int(((now or utcnow()) - since).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def list_tickets(
    engine: Engine, which: str, platform: str, user_id: str = "", limit: int = 50
) -> list[Ticket]:
    """Tickets for the staff list: open (default), unclaimed, mine (claimed by user_id) or all.

    Oldest first for the working lists (the longest wait on top), newest first for `all`.
    `platform` '' lists every platform (the console).
    """
    if which not in LISTS:
        raise ValueError(f"unknown ticket list {which!r}")
    stmt = select(Ticket)
    if platform:
        stmt = stmt.where(Ticket.platform == platform)
    if which == "open":
        stmt = stmt.where(col(Ticket.status).in_(OPEN_STATUSES))
    elif which == "unclaimed":
        stmt = stmt.where(Ticket.status == "open")
    elif which == "mine":
        stmt = stmt.where(col(Ticket.status).in_(OPEN_STATUSES), Ticket.claimed_by == user_id)
    order = col(Ticket.id).desc() if which == "all" else col(Ticket.id)
    with Session(engine) as session:
        return list(session.exec(stmt.order_by(order).limit(limit)))


def staff_names(engine: Engine, user_ids: set[str]) -> dict[str, str]:
    """Display names staff had when they last wrote in a ticket (ids without one are left out)."""
    ids = {u for u in user_ids if u}
    if not ids:
        return {}
    with Session(engine) as session:
        rows = session.exec(
            select(Message.author_id, Message.author_name)
            .where(col(Message.author_id).in_(ids), col(Message.role).in_(["staff", "note"]))
            .order_by(col(Message.id))
        )
        return {author: name for author, name in rows if name}


def history(engine: Engine, ticket_id: int) -> TicketHistory:
    """The ticket's card facts, its lifecycle with who did what, and its whole conversation."""
    with Session(engine) as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise DeskError(f"There is no ticket #{ticket_id}.")
        messages = list(
            session.exec(
                select(Message)
                .where(Message.conversation_id == ticket.conversation_id)
                .order_by(col(Message.id))
            )
        )
        audits = list(
            session.exec(
                select(AuditEntry)
                .where(AuditEntry.target == f"ticket:{ticket_id}")
                .order_by(col(AuditEntry.id))
            )
        )
        steps = list(
            session.exec(select(EscalationStep).where(EscalationStep.ticket_id == ticket_id))
        )
    view = ticket_view(ticket)
    names = staff_names(engine, {ticket.claimed_by, ticket.resolved_by})

    def who(user: str) -> str:
        return names.get(user, user) if user else "?"

    events: list[tuple[datetime, str]] = [(ticket.created_at, "opened (handed to staff)")]
    for step in steps:
        if step.step == "card_recorded":
            events.append((step.created_at, "card posted in the staff channel"))
        elif step.step == "member_told":
            events.append((step.created_at, "member told a person will reply"))
    if ticket.claimed_at:
        events.append((ticket.claimed_at, f"claimed by {who(ticket.claimed_by)}"))
    if ticket.first_staff_reply_at:
        events.append((ticket.first_staff_reply_at, "first staff reply"))
    if ticket.resolved_at:
        verb = "handed back to the bot" if ticket.status == "handed_back" else "resolved"
        events.append((ticket.resolved_at, f"{verb} by {who(ticket.resolved_by)}"))
    for entry in audits:
        events.append((entry.created_at, _audit_event(entry)))
    events.sort(key=lambda item: item[0])
    transcript = [
        {"role": m.role, "author": m.author_name, "text": m.text, "at": m.created_at}
        for m in messages
    ]
    return TicketHistory(view, events, transcript, member_tickets(engine, ticket))


def member_tickets(engine: Engine, ticket: Ticket, limit: int = 5) -> list[Ticket]:
    """The same member's other tickets on the same platform, newest first."""
    with Session(engine) as session:
        conv = session.get(Conversation, ticket.conversation_id)
        if conv is None or not conv.member_id:
            return []
        stmt = (
            select(Ticket)
            .join(Conversation, col(Conversation.id) == col(Ticket.conversation_id))
            .where(Conversation.member_id == conv.member_id, Ticket.platform == ticket.platform)
            .where(Ticket.id != ticket.id)
            .order_by(col(Ticket.id).desc())
            .limit(limit)
        )
        return list(session.exec(stmt))


def _audit_event(entry: AuditEntry) -> str:
    """One audited ticket change as a history line."""
    before, after = (
        json.loads(entry.before or "null") or {},
        json.loads(entry.after or "null") or {},
    )
    actor = entry.actor
    if entry.action == "ticket transfer":
        return f"transferred from {before.get('team') or '?'} to {after.get('team')} by {actor}"
    if entry.action == "ticket type":
        return (
            f"issue type corrected from {before.get('issue_type') or '(none)'} to "
            f"{after.get('issue_type')} by {actor}"
        )
    if entry.action == "ticket reopen":
        previous = before.get("resolved_by") or "?"
        return f"reopened: the member wrote again (had been resolved by {previous})"
    return f"{entry.action} by {actor}"


# ---- transfer --------------------------------------------------------------------------------
def known_teams(engine: Engine) -> set[str]:
    """Teams and issue types a ticket can be sent to: scope teams and names, routes, support."""
    with Session(engine) as session:
        rows = list(session.exec(select(IssueType)))
    routes = SettingsStore(engine).get("routes") or {}
    return {r.team for r in rows if r.team} | {r.name for r in rows} | set(routes) | {"support"}


def transfer(
    engine: Engine,
    ticket_id: int,
    team: str,
    actor: str,
    default_channel: str,
    channel: str = "",
    platform: str = "",
) -> Transfer:
    """Send a ticket to another team's staff channel: re-post its card there, tell the member.

    The target channel is `channel` when given, else the team's route on the ticket's platform,
    else `default_channel` (the platform's escalation channel). Whoever had it is released, so
    the new team claims it. The old staff thread is told where it went.
    """
    with Session(engine) as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise DeskError(f"There is no ticket #{ticket_id}.")
        if ticket.status not in OPEN_STATUSES:
            raise DeskError(
                f"Ticket #{ticket_id} is {ticket.status.replace('_', ' ')}; only open tickets "
                "can be transferred (it reopens when the member writes again)."
            )
        target = channel or SettingsStore(engine).route_for(ticket.platform, team, team)
        target = target or default_channel
        if not target:
            raise DeskError(
                f"There is no {ticket.platform} staff channel for `{team}`: set one with "
                f"`/deskhand route set {team} #channel` or give a #channel."
            )
        current = ticket.staff_channel_id or default_channel
        if target == current and team == ticket.team:
            raise DeskError(f"Ticket #{ticket_id} is already with {team} in that channel.")
        moved = target != current
        before = _transfer_state(ticket)
        old_channel, old_thread = ticket.staff_channel_id, ticket.staff_thread_id
        ticket.team, ticket.status, ticket.claimed_by, ticket.claimed_at = team, "open", "", None
        if moved:
            ticket.staff_channel_id, ticket.staff_thread_id = target, ""
            session.exec(
                delete(EscalationStep).where(
                    col(EscalationStep.ticket_id) == ticket_id,
                    col(EscalationStep.step).in_(CARD_STEPS),
                )
            )
        session.add(ticket)
        entry = record_audit(
            session,
            actor,
            "ticket transfer",
            f"ticket:{ticket_id}",
            before,
            _transfer_state(ticket),
            platform,
        )
        outcome = transfer_outcome(ticket, team, actor, moved, old_channel, old_thread)
        session.add_all(outbox_items(outcome, ticket.platform))
        session.commit()
        session.refresh(ticket)
        session.refresh(entry)
        audit_id = entry.id or 0
    return Transfer(ticket, team, target, moved, audit_id, outcome)


def transfer_outcome(
    ticket: Ticket, team: str, actor: str, moved: bool, old_channel: str, old_thread: str
) -> DeskOutcome:
    """The old staff thread is told, the card follows the ticket, the member is told."""
    notices = []
    if old_thread:
        where = "its card is re-posted in that team's channel" if moved else "same channel"
        notices.append(
            StaffNotice(
                old_channel,
                old_thread,
                f"Ticket #{ticket.id} was transferred to {team} by {_name(actor)} ({where}). "
                "Replies in this thread are no longer relayed to the member.",
            )
        )
    told = MemberPost(
        "transferred",
        f"I've passed your question to the {team} team, who handle this kind of request. "
        "A person from that team will reply here in this thread.",
    )
    return member_outcome(
        ticket,
        staff_notices=notices,
        repost_card=moved,
        refresh_card=not moved,
        to_member=[told],
    )


def _transfer_state(ticket: Ticket) -> dict[str, Any]:
    return {
        "team": ticket.team,
        "staff_channel_id": ticket.staff_channel_id,
        "staff_thread_id": ticket.staff_thread_id,
        "status": ticket.status,
        "claimed_by": ticket.claimed_by,
    }


def _name(actor: str) -> str:
    """The readable part of an audit actor ('slack:U1 (Sam)' -> 'Sam'), without markup."""
    found = re.search(r"\(([^()]*)\)\s*$", actor)
    name = found.group(1) if found else actor
    return re.sub(r"[<>&*_`~]", "", name) or "staff"


# ---- issue-type correction -------------------------------------------------------------------
def correct_type(
    engine: Engine, scope: Any, ticket_id: int, issue_type: str, actor: str, platform: str = ""
) -> Retype:
    """Set a ticket's issue type and teach the classifier its question as a labelled example.

    The question is added to the issue type's example phrasings (the classifier's training data,
    `IssueType.examples`) through the scope store, which audits it (undo: `audit undo`) — unless
    the flywheel's stable coin holds it back to measure the classifier on (one in five).
    """
    rows = {r.name: r for r in scope.all()}
    if issue_type not in rows:
        raise DeskError(
            f"There is no issue type `{issue_type}`. Known: {', '.join(sorted(rows)) or 'none'}."
        )
    with Session(engine) as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise DeskError(f"There is no ticket #{ticket_id}.")
        before = ticket.issue_type
        if before == issue_type:
            raise DeskError(f"Ticket #{ticket_id} already has issue type `{issue_type}`.")
        ticket.issue_type = issue_type
        conv = session.get(Conversation, ticket.conversation_id)
        if conv is not None:
            conv.issue_type = issue_type
            session.add(conv)
        session.add(ticket)
        planned = flywheel.plan(rows, ticket.question or "", issue_type)
        question, add = planned.text, planned.train
        entry = record_audit(
            session,
            actor,
            "ticket type",
            f"ticket:{ticket_id}",
            {"issue_type": before},
            {
                "issue_type": issue_type,
                "example": question if add else "",
                "held_back": question if planned.held_back else "",
            },
            platform,
        )
        notices = []
        if ticket.staff_thread_id:
            text = (
                f"Issue type corrected from {before or '(none)'} to {issue_type} by {_name(actor)}."
            )
            notices.append(StaffNotice(ticket.staff_channel_id, ticket.staff_thread_id, text))
        outcome = member_outcome(ticket, staff_notices=notices, refresh_card=True)
        session.add_all(outbox_items(outcome, ticket.platform))
        session.commit()
        session.refresh(ticket)
        session.refresh(entry)
    flywheel.learn(
        engine,
        scope,
        planned,
        issue_type,
        "corrected_type",
        f"ticket #{ticket_id}",
        actor,
        platform,
    )
    team = rows[issue_type].team
    return Retype(ticket, before, add, entry.id or 0, team, outcome, planned.held_back)


# ---- reopen ----------------------------------------------------------------------------------
def reopen_for(engine: Engine, conv: Conversation, msg: IncomingMessage) -> Ticket | None:
    """Reopen the conversation's recently resolved ticket when the member writes again in it.

    Only a real message reopens it: thanks, greetings and goodbyes after a resolution do not,
    nor anything after REOPEN_WINDOW (that is a new question). The ticket keeps its id, staff
    thread and owner; the member is told, the reopen is audited.
    """
    if conv.status != "resolved" or small_talk_kind(msg.text):
        return None
    with Session(engine) as session:
        ticket = session.exec(
            select(Ticket)
            .where(Ticket.conversation_id == conv.id)
            .order_by(col(Ticket.id).desc())
            .limit(1)
        ).first()
        if ticket is None or ticket.status != "resolved" or ticket.resolved_at is None:
            return None
        if utcnow() - ticket.resolved_at > REOPEN_WINDOW:
            return None
        before = {
            "status": ticket.status,
            "resolved_by": ticket.resolved_by,
            "resolved_at": ticket.resolved_at.isoformat(),
        }
        ticket.status = "claimed" if ticket.claimed_by else "open"
        ticket.resolved_by, ticket.resolved_at = "", None
        row = session.get(Conversation, conv.id)
        if row is not None:
            row.status, row.updated_at = "escalated", utcnow()
            session.add(row)
        session.add(ticket)
        record_audit(
            session,
            f"{msg.platform}:{msg.member.user_id} (member)",
            "ticket reopen",
            f"ticket:{ticket.id}",
            before,
            {"status": ticket.status},
            msg.platform,
        )
        told = MemberPost(
            "reopened",
            f"I've reopened your ticket #{ticket.id}, so the team sees your message. "
            "A person will reply here in this thread.",
        )
        # the card is redrawn: its resolve / hand back buttons come back
        outcome = member_outcome(ticket, to_member=[told], refresh_card=True)
        session.add_all(outbox_items(outcome, ticket.platform))
        session.commit()
        session.refresh(ticket)
    return ticket
