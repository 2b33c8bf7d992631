"""`tickets` and `ticket ID ...`: the staff desk's list, one ticket's history, transfer, retype."""

from __future__ import annotations

import json
from typing import Any

from admin_commands.contracts import CommandResult
from admin_commands.parsing import UsageError, channel_id, clip, is_channel_ref, parse_int
from admin_commands.registry import Context, command
from bot import tickets
from bot.desk import DeskError, sentiment_card_text
from bot.models import Ticket

TICKET_USAGE = "ticket ID | ticket ID transfer TEAM|#channel | ticket ID type ISSUE_TYPE"
MAX_TRANSCRIPT_LINES = 20
MAX_TEXT = 2800  # stays inside one Slack section / Discord embed description


def _platform(ctx: Context) -> str:
    """Lists show the caller's platform; the console (local admin) sees every platform."""
    return "" if ctx.caller.platform == "console" else ctx.caller.platform


def _member(ticket: Ticket) -> str:
    member = json.loads(ticket.member or "{}")
    return str(member.get("display_name") or member.get("user_id") or "?")


@command(
    "tickets",
    "tickets [open|unclaimed|mine|all]",
    "The desk's tickets: open (default), nobody's yet, yours, or the latest of any status.",
    role="staff",
    examples=("tickets", "tickets unclaimed", "tickets mine"),
)
def tickets_list(ctx: Context, args: list[str]) -> CommandResult:
    """A table with id, age, issue type, member, owner and status; the longest wait first."""
    if len(args) > 1 or (args and args[0].lower() not in tickets.LISTS):
        raise UsageError("Choose one list: open, unclaimed, mine or all.")
    which = args[0].lower() if args else "open"
    rows = tickets.list_tickets(ctx.app.engine, which, _platform(ctx), ctx.caller.user_id)
    if not rows:
        empty = {
            "open": "No open tickets.",
            "unclaimed": "Every open ticket has an owner.",
            "mine": "You have no open tickets (claim one from its card).",
            "all": "There are no tickets yet.",
        }
        return ctx.ok(f"Tickets: {which}", empty[which])
    names = tickets.staff_names(ctx.app.engine, {t.claimed_by for t in rows})
    header = ["ID", "Age", "Issue type", "Member", "Owner", "Status"]
    every_platform = not _platform(ctx)
    table = [header + (["Platform"] if every_platform else [])]
    for t in rows:
        owner = names.get(t.claimed_by, t.claimed_by) if t.claimed_by else "—"
        row = [
            f"#{t.id}",
            tickets.age_text(t.created_at),
            t.issue_type or "—",
            clip(_member(t), 24),
            clip(owner, 24),
            t.status.replace("_", " "),
        ]
        table.append(row + ([t.platform] if every_platform else []))
    more = " (the first 50)" if len(rows) >= 50 else ""
    return ctx.ok(
        f"Tickets: {which}",
        f"{len(rows)} ticket(s){more}. `/deskhand ticket ID` shows one with its history.",
        table=table,
    )


@command(
    "ticket",
    TICKET_USAGE,
    "One ticket's card and history; transfer it to another team, or correct its issue type.",
    role="staff",
    examples=("ticket 12", "ticket 12 transfer billing", "ticket 12 type billing"),
    family="tickets",
)
def ticket_cmd(ctx: Context, args: list[str]) -> CommandResult:
    """Show, transfer or retype one ticket."""
    if not args:
        raise UsageError("Give the ticket ID (see `/deskhand tickets`).")
    ticket_id = parse_int(args[0], "Ticket ID", 1, 10**12)
    try:
        ctx.app.desk.get(ticket_id)
    except DeskError:
        raise UsageError(f"There is no ticket #{ticket_id} (see `/deskhand tickets`).") from None
    rest = args[1:]
    if not rest:
        return _show(ctx, ticket_id)
    verb = rest[0].lower()
    if verb == "transfer":
        if len(rest) != 2:
            raise UsageError("Give one team (or #channel) to transfer the ticket to.")
        return _transfer(ctx, ticket_id, rest[1])
    if verb == "type":
        if len(rest) != 2:
            raise UsageError("Give one issue type (see `/deskhand scope list`).")
        return _retype(ctx, ticket_id, rest[1])
    raise UsageError(f"`{rest[0]}` is not something I can do to a ticket: use transfer or type.")


def _show(ctx: Context, ticket_id: int) -> CommandResult:
    found = tickets.history(ctx.app.engine, ticket_id)
    view = found.view
    names = tickets.staff_names(ctx.app.engine, {view["claimed_by"]})
    owner = names.get(view["claimed_by"], view["claimed_by"]) or "—"
    articles = "; ".join(
        f"{a.get('title')} ({float(a.get('score') or 0):.2f})" for a in view["articles"][:5]
    )
    fields: list[tuple[str, str]] = [
        ("Status", view["status"].replace("_", " ")),
        ("Member", _member_line(view)),
        ("Issue type", f"{view['issue_type'] or '—'} (confidence {view['confidence']:.2f})"),
        ("Team", view["team"] or "—"),
        ("Owner", owner),
        ("Severity / mood", f"{view['severity']} / {view['sentiment']}"),
        ("Reasons", ", ".join(view["reasons"] or []) or "—"),
        ("Articles tried", articles or "—"),
        ("Question", clip(view["question"] or "—", 300)),
        ("Summary", clip(view["summary"] or "—", 500)),
    ]
    card = sentiment_card_text(view)
    if card:
        fields.append(("Sentiment card", card))
    if found.earlier:
        fields.append(
            (
                "Earlier tickets",
                "; ".join(
                    f"#{t.id} {t.status.replace('_', ' ')} ({t.issue_type or '—'}, "
                    f"{tickets.age_text(t.created_at)} ago)"
                    for t in found.earlier
                ),
            )
        )
    lines = ["**History**"]
    lines += [f"- {at:%m-%d %H:%M} {what}" for at, what in found.events]
    lines.append("**Conversation**")
    shown = found.transcript[-MAX_TRANSCRIPT_LINES:]
    if len(found.transcript) > len(shown):
        lines.append(f"(the last {len(shown)} of {len(found.transcript)} messages)")
    for m in shown:
        who = m["role"] + (f" {m['author']}" if m["author"] else "")
        lines.append(f"- {who}: {clip(m['text'], 200)}")
    text = "\n".join(lines)
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return ctx.ok(f"Ticket #{ticket_id} ({view['platform']})", text, fields=fields)


def _member_line(view: dict[str, Any]) -> str:
    member = view["member"] or {}
    name = member.get("display_name") or member.get("user_id") or "?"
    tier = f" · {member['tier']}" if member.get("tier") else ""
    return f"{name}{tier}"


def _transfer(ctx: Context, ticket_id: int, target: str) -> CommandResult:
    channel = ""
    if is_channel_ref(target):
        channel = channel_id(target) or ""
        if not channel:
            raise UsageError(f"`{target}` is not a channel mention or id.")
        team = ctx.app.desk.get(ticket_id).team or "support"
    else:
        team = target
        known = tickets.known_teams(ctx.app.engine)
        if not tickets.TEAM_NAME.match(team) or team not in known:
            raise UsageError(
                f"`{clip(team, 40)}` is not a team. Known: {', '.join(sorted(known))}."
            )
    ticket = ctx.app.desk.get(ticket_id)
    default = ctx.app.policy.staff_channel(ticket.platform)
    done = tickets.transfer(
        ctx.app.engine,
        ticket_id,
        team,
        ctx.actor,
        default,
        channel=channel,
        platform=ctx.caller.platform,
    )
    where = (
        f"its card is being re-posted in <#{done.channel}>"
        if done.moved
        else "it stays in the same staff channel"
    )
    return CommandResult(
        ok=True,
        title="Ticket transferred",
        text=f"Ticket #{ticket_id} is now with {team}: {where}, unclaimed for that team to pick "
        f"up. The member was told it went to the {team} team. Logged as #{done.audit_id}.",
        deliver_now=True,
    )


def _retype(ctx: Context, ticket_id: int, issue_type: str) -> CommandResult:
    done = tickets.correct_type(
        ctx.app.engine, ctx.app.scope, ticket_id, issue_type, ctx.actor, ctx.caller.platform
    )
    parts = [
        f"Ticket #{ticket_id}: issue type {done.before or '(none)'} → {issue_type}. "
        f"Logged as #{done.audit_id}."
    ]
    if done.example_added:
        example_audit = ctx.last_audit("scope ")
        parts.append(
            f"Its question is now an example of `{issue_type}`; the classifier retrains in the "
            f"background (undo: `/deskhand audit undo {example_audit}`)."
        )
    elif done.held_back:
        parts.append(
            "Its question is kept back to measure the classifier on (one correction in five is), "
            "so the learning curve in the weekly digest stays honest."
        )
    else:
        parts.append("No new example: the question is empty or already an example.")
    if done.example_added or done.held_back:
        ctx.app.classifier_job.start()  # off the message path; a point on the learning curve
    if done.team and done.team != (done.ticket.team or ""):
        parts.append(
            f"`{issue_type}` belongs to team {done.team}: "
            f"`/deskhand ticket {ticket_id} transfer {done.team}` moves it there."
        )
    return CommandResult(
        ok=True, title="Issue type corrected", text=" ".join(parts), deliver_now=True
    )
