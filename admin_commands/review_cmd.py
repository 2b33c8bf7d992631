"""`trace`, `review`: read one conversation's decision trace, work the review queue, tag causes."""

from __future__ import annotations

import json
from typing import Any

from admin_commands.contracts import CommandResult
from admin_commands.parsing import (
    CommandError,
    UsageError,
    clip,
    parse_days,
    parse_flags,
    parse_int,
)
from admin_commands.registry import Context, command
from bot.improve.review import (
    CAUSES,
    DEFAULT_DAYS,
    REASONS,
    SKIPPED,
    ReviewError,
    next_review,
    review_summary,
    tag,
)
from bot.improve.trace import Trace, TraceError, build_trace

MAX_STEPS = 30
ROLE_LABEL = {
    "member": "Member",
    "bot": "Bot",
    "staff": "Staff",
    "note": "Note",
    "system": "System",
}


def render_trace(trace: Trace) -> str:
    """The trace as lines: who said what, what was retrieved and decided, what followed."""
    lines = [
        f"**Conversation #{trace.conversation_id}** · {trace.platform} #{trace.channel_id} · "
        f"{trace.member} · issue `{trace.issue_type or '—'}` · "
        f"started {trace.started:%Y-%m-%d %H:%M} UTC",
        f"Outcome: {trace.outcome}.",
    ]
    steps = trace.steps
    if len(steps) > MAX_STEPS:
        lines.append(f"(showing the last {MAX_STEPS} of {len(steps)} events)")
        steps = steps[-MAX_STEPS:]
    for step in steps:
        lines.extend(_step_lines(step))
    return "\n".join(lines)


def _step_lines(step: Any) -> list[str]:
    at = f"`{step.at:%H:%M}`"
    if step.kind in ROLE_LABEL:
        who = step.detail.get("author") or ""
        label = ROLE_LABEL[step.kind] + (f" ({who})" if who and step.kind != "bot" else "")
        return [f"{at} **{label}:** {clip(step.text, 300) or '(button)'}"]
    d = step.detail
    if step.kind == "decision":
        reasons = ", ".join(d.get("reasons") or []) or "—"
        shadow = " (shadow: not posted)" if d.get("shadow") else ""
        out = [
            f"{at} **Decided `{step.text}`**{shadow} · confidence {d.get('confidence', 0):.2f} · "
            f"why: {reasons} · issue `{d.get('issue_type') or '—'}` · "
            f"version `{d.get('bot_version') or '—'}`"
        ]
        hits = d.get("hits") or []
        if hits:
            out.append(
                "   retrieved: "
                + "; ".join(
                    f"#{h.get('article_id')} {clip(h.get('title', ''), 40)} ({h.get('score', 0):.2f})"
                    for h in hits[:5]
                )
            )
        else:
            out.append("   retrieved: nothing")
        return out
    if step.kind == "review":
        note = f": {clip(d.get('note', ''), 120)}" if d.get("note") else ""
        fix = d.get("fix") or {}
        fixed = f" (fix: {', '.join(f'{k}={v}' for k, v in fix.items())})" if fix else ""
        return [f"{at} **Reviewed** `{step.text}` by {d.get('reviewer', '?')}{note}{fixed}"]
    return [f"{at} **{step.kind.capitalize()}:** {step.text}"]


@command(
    "trace",
    "trace CONVERSATION",
    "What the member wrote, what the bot retrieved (scores), decided and why, said, and what "
    "happened next. CONVERSATION: its number, its key, or ticket:N.",
    role="staff",
    examples=("trace 42", "trace ticket:7"),
    family="review",
)
def trace_command(ctx: Context, args: list[str]) -> CommandResult:
    """Render the recorded trace of one conversation."""
    if len(args) != 1:
        raise UsageError("Give one conversation: its number, its key, or `ticket:N`.")
    try:
        trace = build_trace(ctx.app.engine, args[0])
    except TraceError as exc:
        raise CommandError(str(exc)) from exc
    return ctx.ok(f"Trace of conversation #{trace.conversation_id}", render_trace(trace))


@command(
    "review",
    "review [--days N]",
    "The next conversation worth reviewing (Not helpful, answered then escalated, could have "
    "answered, low margin, AI-assisted and random samples), with its trace.",
    role="staff",
    examples=("review", "review --days 30"),
    family="review",
)
def review_command(ctx: Context, args: list[str]) -> CommandResult:
    """Serve the top of the queue."""
    positional, flags = parse_flags(args, valued={"days"})
    if positional:
        raise UsageError(
            f"`review` takes only --days; tag with `review tag ID CAUSE`, got `{positional[0]}`."
        )
    days = parse_days(flags, DEFAULT_DAYS)
    nxt = next_review(ctx.app, days)
    if nxt.item is None:
        return ctx.ok("Review queue empty", f"Nothing waiting from the last {days} days.")
    item = nxt.item
    trace = build_trace(ctx.app.engine, str(item.conversation_id))
    waiting = ", ".join(f"{r.replace('_', ' ')} {n}" for r, n in nxt.waiting.items())
    return ctx.ok(
        f"Review conversation #{item.conversation_id}",
        f"Why it is here: {item.why}.\n{render_trace(trace)}\n\n"
        f"Tag it: `/deskhand review tag {item.conversation_id} CAUSE [note]` "
        f"(causes: {', '.join(CAUSES)}; a fix: `--article ID`, `--route R` or "
        f"`--phrasing TYPE`), "
        f"or `/deskhand review skip {item.conversation_id}`.",
        fields=[("Waiting", waiting)],
    )


@command(
    "review tag",
    'review tag ID CAUSE ["NOTE"] [--article ID] [--route answer|clarify|escalate|decline]'
    " [--phrasing TYPE]",
    "Record the root cause of a conversation: " + ", ".join(CAUSES) + ".",
    role="staff",
    examples=(
        'review tag 42 knowledge-outdated "refund window changed to 30 days"',
        "review tag 42 wrong-retrieval --article 7",
        "review tag 42 wrong-routing --phrasing billing",
    ),
    family="review",
)
def review_tag(ctx: Context, args: list[str]) -> CommandResult:
    """Store the tag (audited) and say what it feeds."""
    positional, flags = parse_flags(args, valued={"article", "route", "phrasing"})
    if len(positional) < 2:
        raise UsageError("Give the conversation number and a cause, e.g. `review tag 42 correct`.")
    cid = parse_int(positional[0], "ID", 1, 10**12)
    article = flags.get("article")
    article_id = parse_int(str(article), "--article", 1, 10**9) if article else None
    route, phrasing = str(flags.get("route", "")), str(flags.get("phrasing", ""))
    return _tag(ctx, cid, positional[1], " ".join(positional[2:]), article_id, route, phrasing)


@command(
    "review skip",
    "review skip ID",
    "Take a conversation out of the queue without a verdict.",
    role="staff",
    examples=("review skip 42",),
    family="review",
)
def review_skip(ctx: Context, args: list[str]) -> CommandResult:
    """A skip is stored like a tag so the queue moves on (not counted as a cause)."""
    if len(args) != 1:
        raise UsageError("Give one conversation number.")
    return _tag(ctx, parse_int(args[0], "ID", 1, 10**12), SKIPPED, "", None, "")


def _tag(
    ctx: Context,
    cid: int,
    cause: str,
    note: str,
    article_id: int | None,
    route: str,
    phrasing: str = "",
) -> CommandResult:
    try:
        row = tag(ctx.app, cid, cause, ctx.actor, note, article_id, route, phrasing)
    except ReviewError as exc:
        raise CommandError(str(exc)) from exc
    after = {"cause": row.cause, "note": row.note, "fix": row.fix, "queue": row.queue_reason}
    ctx.audit("review tag", f"conversation:{cid}", None, after)
    verb = "Skipped" if row.cause == SKIPPED else f"Tagged `{row.cause}`"
    fix = json.loads(row.fix or "{}")
    case = (
        " With the fix it is now a regression case (`deskhand eval history`)."
        if fix.get("route")
        else ""
    )
    return ctx.ok(
        "Review recorded",
        f"{verb} on conversation #{cid}.{case}{_phrasing_note(fix)} Next: `/deskhand review`.",
    )


def _phrasing_note(fix: dict[str, Any]) -> str:
    """What `--phrasing` did with the member's question."""
    kind, outcome = fix.get("phrasing"), fix.get("phrasing_outcome")
    if outcome == "added":
        return (
            f" The member's question is now an example phrasing of `{kind}`; the classifier"
            " retrains in the background."
        )
    if outcome == "held back":
        return f" The member's question is held back to measure the classifier on `{kind}`."
    if outcome == "already known":
        return f" `{kind}` already has that phrasing."
    return ""


@command(
    "review stats",
    "review stats [--days N]",
    "Root causes found in review, overall and per reason the queue served them.",
    role="staff",
    examples=("review stats", "review stats --days 90"),
    family="review",
)
def review_stats(ctx: Context, args: list[str]) -> CommandResult:
    """Counts per cause and a cause × queue-reason table."""
    positional, flags = parse_flags(args, valued={"days"})
    if positional:
        raise UsageError("`review stats` takes only --days.")
    days = parse_days(flags, 30)
    data = review_summary(ctx.app.engine, days)
    if not data["reviewed"]:
        return ctx.ok("No reviews", f"Nothing was tagged in the last {days} days.")
    causes = [c for c in CAUSES if c in data["causes"]]
    order = [r for r in (*REASONS, "", "by hand") if r in data["by_reason"]]
    table = [["Queue reason", *causes]]
    for reason in order:
        row = data["by_reason"][reason]
        table.append([reason.replace("_", " "), *(str(row.get(c, 0)) for c in causes)])
    return ctx.ok(
        f"Review, last {days} days",
        f"{data['reviewed']} conversation(s) reviewed, {data['skipped']} skipped.",
        fields=[(c, str(data["causes"][c])) for c in causes],
        table=table,
    )
