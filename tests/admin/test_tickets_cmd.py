"""Staff ticket tools on the real app: list, history, transfer, issue-type fix, reopen."""

from __future__ import annotations

import itertools
import json

from sqlmodel import Session, select

from admin_commands import Caller, run_command
from bot.audit import recent_audit
from bot.contracts import IncomingMessage, Member
from bot.desk_outcome import OUTCOME_KIND, DeskOutcome
from bot.models import AuditEntry, Ticket
from bot.tickets import age_text
from knowledge.models import utcnow
from tests.admin.conftest import ADMIN, DISCORD_STAFF, HELP_CHANNEL, MEMBER, STAFF, ask

HUMAN = "I want to talk to a human"
_said = itertools.count(1)


def say(app, text: str, user: str, thread: str):
    """A further member message in an existing thread (its own platform message id)."""
    msg = IncomingMessage(
        platform="slack",
        channel_id=HELP_CHANNEL,
        thread_id=thread,
        message_id=f"{thread}-{next(_said)}",
        text=text,
        member=Member(user, "Asker"),
        mentioned=True,
    )
    return app.service.handle(msg)


def escalate(app, text: str = HUMAN, user: str = "", thread: str | None = None):
    """A real escalation through the service; returns the reply."""
    reply = ask(app, text, user=user, thread=thread)
    assert reply.route == "escalate" and reply.ticket_id, reply
    return reply


def ids(result) -> list[str]:
    return [row[0] for row in (result.table or [])[1:]]


def pending(app, kind: str | None = None):
    items = app.outbox.pending("slack")
    return [i for i in items if kind is None or i.kind == kind]


def test_tickets_lists_open_unclaimed_mine_with_owner_and_age(app) -> None:
    a, b, c = escalate(app), escalate(app), escalate(app)
    app.desk.staff_message(b.ticket_id, "USTAFF", "Sam", "Looking at it now.")  # auto-claims
    app.desk.resolve(c.ticket_id, "USTAFF")
    listed = run_command(app, STAFF, "tickets")
    assert listed.ok, listed.text
    assert listed.table[0] == ["ID", "Age", "Issue type", "Member", "Owner", "Status"]
    assert ids(listed) == [f"#{a.ticket_id}", f"#{b.ticket_id}"]  # longest wait first
    row_b = listed.table[2]
    assert row_b[4] == "Sam" and row_b[5] == "claimed" and row_b[3] == "Asker"
    assert listed.table[1][4] == "—" and listed.table[1][5] == "open"
    assert ids(run_command(app, STAFF, "tickets unclaimed")) == [f"#{a.ticket_id}"]
    assert ids(run_command(app, STAFF, "tickets mine")) == [f"#{b.ticket_id}"]
    assert "no open tickets" in run_command(app, ADMIN, "tickets mine").text
    assert f"#{c.ticket_id}" in ids(run_command(app, STAFF, "tickets all"))
    # Each platform's staff see their platform's tickets.
    assert run_command(app, DISCORD_STAFF, "tickets").table is None


def test_age_text_units() -> None:
    now = utcnow()
    from datetime import timedelta

    assert age_text(now - timedelta(seconds=40), now) == "40s"
    assert age_text(now - timedelta(minutes=12), now) == "12m"
    assert age_text(now - timedelta(hours=5, minutes=3), now) == "5h"
    assert age_text(now - timedelta(days=3), now) == "3d"


def test_ticket_shows_card_history_and_conversation(app) -> None:
    reply = escalate(app)
    tid = reply.ticket_id
    app.desk.claim(tid, "USTAFF")
    app.desk.staff_message(tid, "USTAFF", "Sam", "Reset it from Settings > Security.")
    app.desk.staff_message(tid, "USTAFF", "Sam", "// checked the auth logs")
    app.desk.resolve(tid, "USTAFF")
    shown = run_command(app, STAFF, f"ticket {tid}")
    assert shown.ok, shown.text
    fields = dict(shown.fields)
    assert fields["Status"] == "resolved" and fields["Owner"] == "Sam"
    assert fields["Member"] == "Asker" and "human_requested" in fields["Reasons"]
    history, conversation = shown.text.split("**Conversation**")
    assert "opened" in history and "claimed by Sam" in history and "resolved by Sam" in history
    assert history.index("claimed by Sam") < history.index("resolved by Sam")
    assert f"member Asker: {HUMAN}" in conversation
    assert "staff Sam: Reset it from Settings" in conversation
    assert "note Sam: // checked the auth logs" in conversation
    assert run_command(app, STAFF, f"ticket #{tid}").ok  # '#12' works too
    assert "Earlier tickets" not in dict(shown.fields)


def test_ticket_lists_the_members_earlier_tickets_and_their_outcomes(app) -> None:
    first = escalate(app, user="UREPEAT", thread="th-first")
    app.desk.resolve(first.ticket_id, "USTAFF")
    say(app, "thanks!", "UREPEAT", "th-first")
    second = escalate(app, user="UREPEAT", thread="th-second")
    escalate(app, user="USOMEONE")  # another member's ticket is not listed
    earlier = dict(run_command(app, STAFF, f"ticket {second.ticket_id}").fields)["Earlier tickets"]
    assert earlier.startswith(f"#{first.ticket_id} resolved (") and earlier.count("#") == 1


def test_transfer_moves_the_card_releases_the_owner_and_tells_the_member(app) -> None:
    assert run_command(app, ADMIN, "route set billing <#C0BILLING>").ok
    reply = escalate(app)
    tid = reply.ticket_id
    app.desk.attach_staff_thread(tid, "CSTAFF", "111.222")  # where the card was posted
    app.escalations.record(tid, "card_recorded", "slack")
    app.escalations.record(tid, "transcript_posted", "slack")
    app.desk.claim(tid, "USTAFF")
    before_items = {i.id for i in pending(app)}
    result = run_command(app, STAFF, f"ticket {tid} transfer billing")
    assert result.ok, result.text
    assert result.deliver_now and "<#C0BILLING>" in result.text
    ticket = app.desk.get(tid)
    assert (ticket.team, ticket.staff_channel_id, ticket.staff_thread_id) == (
        "billing",
        "C0BILLING",
        "",
    )
    assert ticket.status == "open" and ticket.claimed_by == ""
    assert "card_recorded" not in app.escalations.steps(tid)  # the card is posted again
    new = [i for i in pending(app) if i.id not in before_items]
    assert [i.kind for i in new] == [OUTCOME_KIND, "escalation_card", OUTCOME_KIND]
    old_thread = DeskOutcome.from_dict(json.loads(new[0].payload))
    member = DeskOutcome.from_dict(json.loads(new[2].payload))
    [notice] = old_thread.staff_notices
    assert (notice.channel, notice.thread) == ("CSTAFF", "111.222") and not old_thread.to_member
    assert "transferred to billing by Sam" in notice.text
    conv = app.service.conversation(reply.conversation_id)
    assert (member.member_channel_id, member.member_thread_id) == (conv.channel_id, conv.thread_id)
    [told] = member.to_member
    assert told.kind == "transferred" and "billing team" in told.text
    assert new[2].thread_key == f"{HELP_CHANNEL}:{conv.thread_id}"
    entry = recent_audit(app.engine, 1)[0]
    assert entry.action == "ticket transfer" and entry.target == f"ticket:{tid}"
    assert json.loads(entry.before)["claimed_by"] == "USTAFF"
    assert "transferred from support to billing" in run_command(app, STAFF, f"ticket {tid}").text


def test_transfer_refusals_change_nothing(app) -> None:
    reply = escalate(app)
    tid = reply.ticket_id
    unknown = run_command(app, STAFF, f"ticket {tid} transfer astrology")
    assert not unknown.ok and "not a team" in unknown.text and unknown.usage
    app.desk.resolve(tid, "USTAFF")
    resolved = run_command(app, STAFF, f"ticket {tid} transfer billing")
    assert not resolved.ok and "resolved" in resolved.text
    assert app.desk.get(tid).team == "support" and not pending(app)
    # A channel works as a target too (no route needed).
    other = escalate(app)
    moved = run_command(app, STAFF, f"ticket {other.ticket_id} transfer <#C0OTHER>")
    assert moved.ok, moved.text
    assert app.desk.get(other.ticket_id).staff_channel_id == "C0OTHER"


def test_issue_type_correction_teaches_the_classifier_and_can_be_undone(app) -> None:
    question = "the amount on my latest statement looks wrong, talk to a human"
    reply = escalate(app, question)
    tid = reply.ticket_id
    ticket = app.desk.get(tid)
    assert ticket.issue_type != "bug_report" and ticket.question
    fingerprint = app.scope.fingerprint()
    result = run_command(app, STAFF, f"ticket {tid} type bug_report")
    assert result.ok, result.text
    assert app.desk.get(tid).issue_type == "bug_report"
    assert app.service.conversation(reply.conversation_id).issue_type == "bug_report"
    examples = json.loads(next(r for r in app.scope.all() if r.name == "bug_report").examples)
    assert examples[-1] == " ".join(ticket.question.split())
    assert app.scope.fingerprint() != fingerprint  # the classifier retrains on it
    with Session(app.engine) as session:
        actions = [
            e.action for e in session.exec(select(AuditEntry).order_by(AuditEntry.id.desc()))
        ][:2]
    assert actions == ["scope add", "ticket type"]
    assert ticket.team != "engineering"  # bug reports belong to engineering: how to move it
    assert f"ticket {tid} transfer engineering" in result.text
    # The example is one audited change: undo removes it again.
    undo_id = result.text.split("audit undo ")[1].split("`")[0]
    assert run_command(app, ADMIN, f"audit undo {undo_id}").ok
    assert app.scope.fingerprint() == fingerprint
    same = run_command(app, STAFF, f"ticket {tid} type bug_report")
    assert not same.ok and "already" in same.text
    bad = run_command(app, STAFF, f"ticket {tid} type astrology")
    assert not bad.ok and "no issue type" in bad.text


def test_resolved_ticket_reopens_when_the_member_writes_again(app) -> None:
    reply = escalate(app, user="UREOPEN", thread="th-reopen")
    tid = reply.ticket_id
    app.desk.staff_message(tid, "USTAFF", "Sam", "Fixed on our side.")
    app.desk.resolve(tid, "USTAFF")
    thanks = say(app, "thanks!", "UREOPEN", "th-reopen")
    assert thanks.route != "relay" and app.desk.get(tid).status == "resolved"
    again = say(app, "It broke again this morning", "UREOPEN", "th-reopen")
    assert again.route == "relay" and again.ticket_id == tid
    assert again.relay_text == f"(reopened ticket #{tid}) It broke again this morning"
    ticket = app.desk.get(tid)
    assert ticket.status == "claimed" and ticket.claimed_by == "USTAFF"
    assert ticket.resolved_at is None
    with Session(app.engine) as session:
        count = len(
            session.exec(
                select(Ticket).where(Ticket.conversation_id == ticket.conversation_id)
            ).all()
        )
    assert count == 1  # the same ticket, not a new unrelated one
    notices = [DeskOutcome.from_dict(json.loads(i.payload)) for i in pending(app, OUTCOME_KIND)]
    [told] = [o for o in notices if o.ticket_id == tid and o.to_member]
    assert told.to_member[0].kind == "reopened"
    assert f"reopened your ticket #{tid}" in told.to_member[0].text
    assert told.member_user_id == "UREOPEN"
    assert any(o.ticket_id == tid and o.refresh_card for o in notices)  # buttons come back
    # The next message is relayed as usual; the history says what happened.
    follow = say(app, "Here is a screenshot", "UREOPEN", "th-reopen")
    assert follow.route == "relay" and follow.relay_text == "Here is a screenshot"
    history = run_command(app, STAFF, f"ticket {tid}").text
    assert "reopened: the member wrote again (had been resolved by USTAFF)" in history


def test_a_different_members_ticket_or_old_resolution_does_not_reopen(app) -> None:
    reply = escalate(app, user="UOLD", thread="th-old")
    app.desk.resolve(reply.ticket_id, "USTAFF")
    with Session(app.engine) as session:
        ticket = session.get(Ticket, reply.ticket_id)
        ticket.resolved_at = utcnow().replace(year=utcnow().year - 1)
        session.add(ticket)
        session.commit()
    later = say(app, "How do I reset my password?", "UOLD", "th-old")
    assert later.route != "relay" and app.desk.get(reply.ticket_id).status == "resolved"


def test_member_cannot_use_ticket_tools(app) -> None:
    reply = escalate(app)
    for line in ("tickets", f"ticket {reply.ticket_id}", f"ticket {reply.ticket_id} type billing"):
        result = run_command(app, MEMBER, line)
        assert not result.ok and result.title == "Not allowed"
    assert app.desk.get(reply.ticket_id).issue_type != "billing"
    console = run_command(app, Caller("console", "cli"), "tickets")
    assert console.table[0][-1] == "Platform"


def test_help_groups_the_ticket_commands_for_staff(app) -> None:
    staff = run_command(app, STAFF, "help tickets")
    assert staff.ok and "`tickets [open|unclaimed|mine|all]`" in staff.text
    assert "ticket ID transfer TEAM|#channel" in staff.text
    assert "/deskhand ticket 12 type billing" in staff.text
    assert "ticket ID" not in run_command(app, MEMBER, "help").text
