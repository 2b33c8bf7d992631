"""`gaps`: what members ask that the knowledge base does not answer, and `gaps draft N`."""

from __future__ import annotations

from admin_commands.contracts import MAX_BUTTONS, CommandButton, CommandResult
from admin_commands.parsing import (
    CommandError,
    UsageError,
    clip,
    parse_days,
    parse_flags,
    parse_int,
)
from admin_commands.registry import Context, command
from bot.improve.gaps import (
    DEFAULT_DAYS,
    Cluster,
    GapsError,
    draft_gap,
    gaps_report,
    pending_draft,
)

MAX_LISTED = 10


def draft_button(cluster: Cluster, days: int) -> CommandButton:
    """The one-press draft of a cluster: `gaps draft N` in the same window, keyed to the cluster
    so the press drafts the questions the admin saw even if the numbering moved meanwhile."""
    words = ("gaps", "draft", str(cluster.number), "--days", str(days), "--key", str(cluster.key))
    return CommandButton(f"Draft article: gap {cluster.number}", words, "primary")


@command(
    "gaps",
    "gaps [--days N]",
    "Clusters of questions the bot could not answer or that got Not helpful (count, examples, "
    "nearest article), articles never retrieved, issue types with no article, worst articles.",
    role="staff",
    examples=("gaps", "gaps --days 90"),
    family="review",
)
def gaps_command(ctx: Context, args: list[str]) -> CommandResult:
    """The gaps report as a table of clusters plus fields."""
    positional, flags = parse_flags(args, valued={"days"})
    if positional:
        raise UsageError("`gaps` takes only --days (draft one with `gaps draft N`).")
    days = parse_days(flags, DEFAULT_DAYS)
    report = gaps_report(ctx.app.kb, days, embedder=ctx.app.embedder)
    table = None
    if report.clusters:
        table = [["#", "Count", "Examples", "Nearest article", "Tickets"]]
        for c in report.clusters[:MAX_LISTED]:
            near = c.nearest_article
            table.append(
                [
                    str(c.number),
                    f"{c.count} ({c.not_helpful} not helpful)" if c.not_helpful else str(c.count),
                    " / ".join(clip(e, 50) for e in c.examples),
                    f"#{near['article_id']} {clip(near['title'], 30)} ({near['score']:.2f})"
                    if near
                    else "—",
                    str(len(c.ticket_ids)),
                ]
            )
    unused = report.unused_articles
    worst = report.worst_articles
    fields = [
        (
            f"Never retrieved in {days} days",
            ", ".join(f"#{a['article_id']} {clip(a['title'], 30)}" for a in unused[:MAX_LISTED])
            + (f" (+{len(unused) - MAX_LISTED} more)" if len(unused) > MAX_LISTED else "")
            or "none",
        ),
        ("Issue types with no article", ", ".join(report.uncovered_issue_types) or "none"),
        (
            "Worst Not-helpful rate",
            "; ".join(
                f"#{w['article_id']} {clip(w['title'], 30)} {w['not_helpful']}/{w['answers']}"
                for w in worst[:5]
            )
            or "none",
        ),
    ]
    text = (
        f"{report.questions} question(s) in the last {days} days went unanswered or got Not "
        f"helpful, in {len(report.clusters)} cluster(s)."
    )
    buttons = [draft_button(c, days) for c in report.clusters[:MAX_BUTTONS]]
    if buttons:
        text += (
            " Draft an article from a gap's staff answers: press its Draft button (shown for "
            f"the top {len(buttons)}) or `/deskhand gaps draft N`."
        )
    return ctx.ok(
        f"Knowledge gaps, last {days} days", text, fields=fields, table=table, buttons=buttons
    )


@command(
    "gaps draft",
    "gaps draft N [--days N] [--key K]",
    "Draft an article from the staff answers in gap N's tickets (a KB candidate to review); "
    "in LLM mode the model writes it, citing the tickets. `--key` (what the Draft button "
    "sends) drafts the cluster the list showed even if its number moved since, and not twice "
    "while its draft waits for review.",
    role="staff",
    examples=("gaps draft 1",),
    family="review",
    pressable=True,
)
def gaps_draft(ctx: Context, args: list[str]) -> CommandResult:
    """Extractive draft → KB candidate (audited); reviewing it is `kb approve`."""
    positional, flags = parse_flags(args, valued={"days", "key"})
    if len(positional) != 1:
        raise UsageError("Give the gap number from `/deskhand gaps`, e.g. `gaps draft 1`.")
    number = parse_int(positional[0], "N", 1, 1000)
    key = parse_int(str(flags["key"]), "--key", 1, 10**12) if "key" in flags else None
    existing = pending_draft(ctx.app.engine, key) if key is not None else None
    if existing is not None:
        return ctx.ok(
            "Already drafted",
            f"These questions were drafted already: candidate **#{existing}** is waiting for "
            f"review (`/deskhand kb approve {existing}` or `kb reject {existing}`). Nothing new "
            "was drafted.",
        )
    try:
        draft = draft_gap(
            ctx.app.kb,
            number,
            parse_days(flags, DEFAULT_DAYS),
            actor=ctx.caller.user_id,
            llm=ctx.app.llm,
            embedder=ctx.app.embedder,
            key=key,
        )
    except GapsError as exc:
        raise CommandError(str(exc)) from exc
    ctx.audit(
        "gaps draft",
        f"candidate:{draft.candidate_id}",
        None,
        {"title": draft.title, "tickets": draft.ticket_ids, "model": draft.model, "key": key},
    )
    by = "written by the LLM" if draft.model != "extractive" else "drafted"
    note = f"{draft.note}\n" if draft.note else ""
    return ctx.ok(
        "Article drafted",
        f"{note}Candidate **#{draft.candidate_id} {clip(draft.title, 80)}** {by} from tickets "
        f"{', '.join(f'#{t}' for t in draft.ticket_ids)}. It is not published: review it with "
        f"`/deskhand kb approve {draft.candidate_id}` (editable) or `kb reject`.\n\n"
        f"{clip(draft.body, 1500)}",
    )
