"""`kb draft`: a new text for a published article, kept as a candidate until approved or tried."""

from __future__ import annotations

from admin_commands.contracts import CommandResult
from admin_commands.parsing import CommandError, UsageError, clip, parse_flags, parse_int
from admin_commands.registry import Context, command
from knowledge.errors import KnowledgeError
from knowledge.lint import lint_article


@command(
    "kb draft",
    "kb draft ID [--body B] [--title T] [--version V]",
    "Draft a fix of an article (new text, or an earlier version's with --version) without "
    "publishing it: a KB candidate to approve, or to try first with `experiment start NAME "
    "kb-drafts N`.",
    role="staff",
    examples=('kb draft 12 --body "Refunds take 30 days."', "kb draft 12 --version 3"),
    family="review",
)
def kb_draft(ctx: Context, args: list[str]) -> CommandResult:
    """Queue the draft as a pending candidate that edits the article (audited)."""
    positional, flags = parse_flags(args, valued={"body", "title", "version"})
    if len(positional) != 1:
        raise UsageError('Give the article ID, e.g. `kb draft 12 --body "..."`.')
    if not flags:
        raise UsageError("Give the new text (`--body`, `--title`) or `--version V` to restore.")
    article_id = parse_int(positional[0], "article ID", 1, 10**9)
    version = (
        parse_int(str(flags["version"]), "--version", 1, 10**6) if "version" in flags else None
    )
    try:
        cand = ctx.app.kb.draft_edit(
            article_id,
            ctx.actor,
            title=str(flags["title"]) if "title" in flags else None,
            body=str(flags["body"]) if "body" in flags else None,
            from_version=version,
        )
    except KnowledgeError as exc:
        raise CommandError(str(exc)) from None
    findings = lint_article(
        cand.question, cand.answer, allowed=ctx.app.settings.get("allowed_domains") or []
    )
    ctx.audit(
        "kb draft",
        f"candidate:{cand.id}",
        None,
        {"candidate": cand.id, "edits": article_id, "title": cand.question},
    )
    warn = ("\nThe safety lint found: " + "; ".join(str(f) for f in findings)) if findings else ""
    return ctx.ok(
        "Fix drafted",
        f"Candidate **#{cand.id}** would replace article #{article_id}'s text; it is not "
        f"served yet. Try it on part of the traffic with `/deskhand experiment start NAME "
        f"kb-drafts {cand.id}`, or publish it with `/deskhand kb approve {cand.id}`.{warn}\n\n"
        f"{clip(cand.answer, 1500)}",
        fields=[("Candidate", str(cand.id)), ("Edits article", str(article_id))],
    )
