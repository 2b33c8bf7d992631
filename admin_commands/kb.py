"""`kb ...`: articles, search, import, history/revert and review of candidates from escalations."""

from __future__ import annotations

import re
from typing import Any

from admin_commands.contracts import CommandResult, ModalField, ModalSpec
from admin_commands.parsing import CommandError, UsageError, clip, parse_flags, parse_int
from admin_commands.registry import Context, command, form_for
from bot.audit import audited_import
from bot.improve.flywheel import Plan, learn_from_approval
from bot.self_calibration import describe
from knowledge.lint import lint_article

FIELD_FLAGS = {"title", "body", "url", "topic", "tags"}
MAX_ROWS = 40


def article_view(art: Any, body_chars: int = 300) -> dict[str, Any]:
    """An article as audit/display data."""
    return {
        "id": art.id,
        "version": art.version,
        "title": art.title,
        "topic": art.topic,
        "url": art.url,
        "tags": art.tags,
        "body": clip(art.body, body_chars) if body_chars else art.body,
    }


def _id(args: list[str], what: str = "article ID") -> int:
    if not args:
        raise UsageError(f"Give the {what}.")
    return parse_int(args[0], what, 1, 10**9)


def _article_modal(command: str, title: str, art: Any | None = None) -> ModalSpec:
    return ModalSpec(
        command=command,
        title=title,
        fields=[
            ModalField("title", "Title", default=art.title if art else ""),
            ModalField(
                "body", "Answer (Markdown)", multiline=True, default=art.body if art else ""
            ),
            ModalField("url", "Source URL", required=False, default=art.url if art else ""),
            ModalField("topic", "Topic", required=False, default=art.topic if art else "general"),
            ModalField(
                "tags", "Tags (comma-separated)", required=False, default=art.tags if art else ""
            ),
        ],
    )


def _fields(values: dict[str, Any]) -> dict[str, str]:
    """Keep only article fields that were given (blank optional fields are dropped)."""
    out = {k: str(v) for k, v in values.items() if k in FIELD_FLAGS and v is not None}
    if "topic" in out and not out["topic"].strip():
        out["topic"] = "general"
    return out


# ---- add / edit / remove -------------------------------------------------------------------------
@command(
    "kb add",
    'kb add ["TITLE" "BODY"] [--url URL] [--topic TOPIC] [--tags a,b] [--force]',
    "Add an article (opens a form for the body when you give no text).",
    examples=('kb add "Reset 2FA" "Go to Settings → Security…" --topic account', "kb add"),
)
def kb_add(ctx: Context, args: list[str]) -> CommandResult:
    """Add inline, or return a modal for multi-line text."""
    positional, flags = parse_flags(
        args, valued=FIELD_FLAGS - {"title", "body"}, switches={"force"}
    )
    if len(positional) > 2:
        raise UsageError('Quote the title and the body: kb add "Title" "Body".')
    if len(positional) < 2:
        spec = _article_modal("kb add", "New article")
        if positional:
            spec.fields[0] = ModalField("title", "Title", default=positional[0])
        return CommandResult(
            ok=True,
            title="New article",
            text='Fill in the form, or add inline: `/deskhand kb add "Title" "Body" --topic T`.',
            modal=spec,
        )
    return _add(ctx, {"title": positional[0], "body": positional[1], **flags})


@form_for("kb add")
def kb_add_form(ctx: Context, args: list[str], values: dict[str, str]) -> CommandResult:
    """Modal submit of kb add."""
    return _add(ctx, values)


def _refuse_unsafe(ctx: Context, values: dict[str, Any], verb: str) -> None:
    """Chat edits get the same safety lint as imports: findings hold it unless --force."""
    if values.pop("force", False):
        return
    findings = lint_article(
        str(values.get("title") or ""),
        str(values.get("body") or ""),
        str(values.get("url") or ""),
        allowed=ctx.app.settings.get("allowed_domains") or [],
    )
    if findings:
        raise CommandError(
            "Not saved; the safety lint found:\n"
            + "\n".join(f"- {f}" for f in findings)
            + f"\nEdit the text, or add `--force` to {verb} it anyway."
        )


def _add(ctx: Context, values: dict[str, Any]) -> CommandResult:
    values = dict(values)
    _refuse_unsafe(ctx, values, "save")
    fields = _fields(values)
    art = ctx.app.kb.add_article(**fields, owner=ctx.caller.user_id, actor=ctx.actor)
    audit_id = ctx.audit("kb add", f"article:{art.id}", None, article_view(art))
    return ctx.ok(
        "Article added",
        f"Added article **#{art.id} {art.title}** (topic `{art.topic}`). "
        f"It answers from the next message on. Undo: `/deskhand audit undo {audit_id}`.",
        fields=[("ID", str(art.id)), ("Version", str(art.version))],
    )


@command(
    "kb edit",
    "kb edit ID [--title T] [--body B] [--url URL] [--topic T] [--tags a,b] [--force]",
    "Edit an article (opens a pre-filled form when you give no changes).",
    examples=('kb edit 12 --body "New answer text"', "kb edit 12"),
)
def kb_edit(ctx: Context, args: list[str]) -> CommandResult:
    """Apply inline changes, or return a modal pre-filled with the current text."""
    positional, flags = parse_flags(args, valued=FIELD_FLAGS, switches={"force"})
    article_id = _id(positional)
    if len(positional) > 1:
        raise UsageError('Give changes as options, e.g. --body "..." (quote multi-word values).')
    art = ctx.app.kb.get(article_id)
    if not set(flags) - {"force"}:
        return CommandResult(
            ok=True,
            title=f"Edit article #{article_id}",
            text=f'Edit in the form, or inline: `/deskhand kb edit {article_id} --body "..."`.',
            modal=_article_modal(f"kb edit {article_id}", f"Edit article #{article_id}", art),
        )
    return _edit(ctx, article_id, flags)


@form_for("kb edit")
def kb_edit_form(ctx: Context, args: list[str], values: dict[str, str]) -> CommandResult:
    """Modal submit of kb edit."""
    return _edit(ctx, _id(args), values)


def _edit(ctx: Context, article_id: int, values: dict[str, Any]) -> CommandResult:
    before = ctx.app.kb.get(article_id)
    values = dict(values)
    merged = {"title": before.title, "body": before.body, "url": before.url or "", **values}
    _refuse_unsafe(ctx, merged, "save")
    changes = _fields(values)
    after = ctx.app.kb.edit_article(article_id, actor=ctx.actor, **changes)
    if after.version == before.version:
        return ctx.ok("No change", f"Article #{article_id} already says that; nothing changed.")
    changed = [k for k in sorted(changes) if getattr(before, k) != getattr(after, k)]
    audit_id = ctx.audit(
        "kb edit", f"article:{article_id}", article_view(before), article_view(after)
    )
    return ctx.ok(
        "Article updated",
        f"Article **#{article_id}** is now version {after.version} (changed: "
        f"{', '.join(changed)}). Undo: `/deskhand audit undo {audit_id}` or "
        f"`/deskhand kb revert {article_id} {before.version}`.",
        fields=[
            (k, f"{clip(getattr(before, k), 60)} → {clip(getattr(after, k), 60)}") for k in changed
        ],
    )


@command(
    "kb remove",
    "kb remove ID",
    "Remove an article (its history is kept; undo restores it).",
    examples=("kb remove 12",),
)
def kb_remove(ctx: Context, args: list[str]) -> CommandResult:
    """Remove one article and audit its full text so it can be restored."""
    article_id = _id(args)
    art = ctx.app.kb.get(article_id)
    before = {**article_view(art, 0), "owner": art.owner}
    ctx.app.kb.remove_article(article_id, actor=ctx.actor)
    audit_id = ctx.audit("kb remove", f"article:{article_id}", before, None)
    return ctx.ok(
        "Article removed",
        f"Removed **#{article_id} {art.title}**. Undo: `/deskhand audit undo {audit_id}`.",
    )


# ---- reading -----------------------------------------------------------------------------------
@command("kb show", "kb show ID", "Show one article.", role="staff", examples=("kb show 3",))
def kb_show(ctx: Context, args: list[str]) -> CommandResult:
    """The article's text and metadata."""
    art = ctx.app.kb.get(_id(args))
    return ctx.ok(
        f"#{art.id} {art.title}",
        clip(art.body, 2800) if len(art.body) > 2800 else art.body,
        fields=[
            ("Topic", art.topic),
            ("Version", str(art.version)),
            ("URL", art.url or "—"),
            ("Tags", art.tags or "—"),
            ("Owner", art.owner or "—"),
        ],
    )


@command(
    "kb list",
    "kb list [TOPIC]",
    "List articles, optionally of one topic.",
    role="staff",
    examples=("kb list", "kb list billing"),
)
def kb_list(ctx: Context, args: list[str]) -> CommandResult:
    """A table of articles."""
    if len(args) > 1:
        raise UsageError("Give at most one topic.")
    arts = ctx.app.kb.list(args[0] if args else None)
    if not arts:
        where = f" in topic `{args[0]}`" if args else ""
        return ctx.ok("No articles", f"There are no articles{where}.")
    rows = [[str(a.id), clip(a.title, 60), a.topic, str(a.version)] for a in arts[:MAX_ROWS]]
    more = f" (showing {MAX_ROWS})" if len(arts) > MAX_ROWS else ""
    return ctx.ok(
        "Articles",
        f"{len(arts)} article(s){more}.",
        table=[["ID", "Title", "Topic", "Ver"], *rows],
    )


@command(
    "kb search",
    "kb search TEXT",
    "Show what the bot would retrieve for a question, with scores.",
    role="staff",
    examples=("kb search how do I reset my password",),
)
def kb_search(ctx: Context, args: list[str]) -> CommandResult:
    """Run the same hybrid search the bot uses."""
    text = " ".join(args).strip()
    if not text:
        raise UsageError("Give the question to search for.")
    hits = ctx.app.kb.search(text, k=5)
    th = ctx.app.settings.thresholds(ctx.caller.channel_id)
    if not hits:
        return ctx.ok("No matches", f"Nothing in the knowledge base matches “{clip(text, 80)}”.")
    rows = [
        [
            str(i),
            str(h.article_id),
            clip(h.title, 50),
            f"{h.score:.3f}",
            f"{h.vector_score:.3f}",
            f"{h.text_score:.3f}",
        ]
        for i, h in enumerate(hits, 1)
    ]
    return ctx.ok(
        "Search results",
        f"Top matches for “{clip(text, 80)}” (answer ≥ {th['answer']:.2f}, "
        f"clarify ≥ {th['clarify']:.2f} in this channel).",
        table=[["#", "ID", "Title", "Score", "Vector", "Text"], *rows],
    )


@command(
    "kb history",
    "kb history ID",
    "Every version of an article.",
    role="staff",
    examples=("kb history 3",),
)
def kb_history(ctx: Context, args: list[str]) -> CommandResult:
    """Versions, who made them and how."""
    article_id = _id(args)
    versions = ctx.app.kb.history(article_id)
    rows = [
        [
            str(v.version),
            v.action,
            clip(v.title, 50),
            v.edited_by or "—",
            v.created_at.strftime("%Y-%m-%d %H:%M"),
        ]
        for v in versions
    ]
    return ctx.ok(
        f"History of #{article_id}",
        f"{len(versions)} version(s). Restore one with `/deskhand kb revert {article_id} VERSION`.",
        table=[["Ver", "Action", "Title", "By", "When (UTC)"], *rows],
    )


@command(
    "kb revert",
    "kb revert ID VERSION",
    "Restore an earlier version's text as a new version.",
    examples=("kb revert 3 1",),
)
def kb_revert(ctx: Context, args: list[str]) -> CommandResult:
    """Revert and audit."""
    if len(args) != 2:
        raise UsageError("Give the article ID and the version to restore.")
    article_id, version = _id(args), parse_int(args[1], "VERSION", 1, 10**6)
    before = ctx.app.kb.get(article_id)
    after = ctx.app.kb.revert(article_id, version, actor=ctx.actor)
    audit_id = ctx.audit(
        "kb revert", f"article:{article_id}", article_view(before), article_view(after)
    )
    return ctx.ok(
        "Article reverted",
        f"Article #{article_id} now has the text of version {version} (as version "
        f"{after.version}). Undo: `/deskhand audit undo {audit_id}`.",
    )


@command(
    "kb import",
    "kb import URL [--force]",
    "Fetch a page and add (or update) it as an article (--force: despite safety findings).",
    examples=("kb import https://help.example.com/billing/refunds",),
)
def kb_import(ctx: Context, args: list[str]) -> CommandResult:
    """Import one URL; network failures come back as a clear error."""
    from knowledge.ingest import import_url

    force = "--force" in args
    args = [a for a in args if a != "--force"]
    if len(args) != 1:
        raise UsageError("Give exactly one URL.")
    url = args[0].strip("<>").split("|", 1)[0]  # Slack wraps links as <https://x|x>
    kb = ctx.app.kb
    domains = list(ctx.app.settings.get("allowed_domains") or [])
    done = audited_import(
        kb,
        ctx.actor,
        url,
        lambda: import_url(kb, url, allowed_domains=domains, force=force),
        ctx.caller.platform,
    )
    if done.audit_id is None:
        return ctx.ok("Nothing to import", f"{url} is already in the knowledge base, unchanged.")
    names = ", ".join(f"#{i} {clip(title, 40)}" for i, title in done.titles.items())
    calibration = describe(ctx.app.recalibrate(actor=ctx.actor))
    return ctx.ok(
        "Imported",
        f"{len(done.added)} added, {len(done.updated)} updated from {url}: {names}. "
        f"Undo: `/deskhand audit undo {done.audit_id}`.\n{calibration}",
    )


# ---- candidates ---------------------------------------------------------------------------------
@command(
    "kb candidates",
    "kb candidates",
    "Answers from resolved escalations waiting for review.",
    role="staff",
    examples=("kb candidates",),
)
def kb_candidates(ctx: Context, args: list[str]) -> CommandResult:
    """Pending candidates, oldest first."""
    if args:
        raise UsageError("`kb candidates` takes no arguments.")
    cands = ctx.app.kb.list_candidates("pending")
    if not cands:
        return ctx.ok("No candidates", "Nothing waiting for review.")
    rows = [
        [
            str(c.id),
            str(c.ticket_id or "—"),
            clip(c.question, 50),
            clip(c.answer, 60),
            c.staff_id or "—",
        ]
        for c in cands[:MAX_ROWS]
    ]
    return ctx.ok(
        "KB candidates",
        f"{len(cands)} waiting. Review with `/deskhand kb approve ID` (opens an editable form) "
        "or `/deskhand kb reject ID`.",
        table=[["ID", "Ticket", "Question", "Answer", "Staff"], *rows],
    )


@command(
    "kb approve",
    "kb approve ID [--as-is] [--second] [--force] [--title T] [--body B] [--topic T]",
    "Turn a candidate into an article (opens an editable form unless --as-is or edits given). "
    "Edited text needs an admin, or a second staff member's `--second`.",
    role="staff",
    examples=("kb approve 4", "kb approve 4 --as-is"),
)
def kb_approve(ctx: Context, args: list[str]) -> CommandResult:
    """Approve as-is / with inline edits, or return an editable form."""
    positional, flags = parse_flags(
        args, valued={"title", "body", "topic"}, switches={"as-is", "force", "second"}
    )
    candidate_id = _id(positional, "candidate ID")
    cand = _candidate(ctx, candidate_id)
    if flags.pop("second", False):
        return _second_approval(ctx, candidate_id, bool(flags.pop("force", False)))
    if not flags:
        return CommandResult(
            ok=True,
            title=f"Review candidate #{candidate_id}",
            text=f"Edit and submit the form, or `/deskhand kb approve {candidate_id} --as-is`.",
            modal=ModalSpec(
                command=f"kb approve {candidate_id}",
                title=f"Approve candidate #{candidate_id}",
                fields=[
                    ModalField("title", "Title", default=clip(cand.question, 250)),
                    ModalField("body", "Answer (Markdown)", multiline=True, default=cand.answer),
                    ModalField("topic", "Topic", required=False, default=cand.topic),
                ],
            ),
        )
    flags.pop("as-is", None)
    force = bool(flags.pop("force", False))
    return _approve(ctx, candidate_id, {k: str(v) for k, v in flags.items()}, force)


@form_for("kb approve")
def kb_approve_form(ctx: Context, args: list[str], values: dict[str, str]) -> CommandResult:
    """Modal submit of kb approve."""
    return _approve(ctx, _id(args, "candidate ID"), values)


def _candidate(ctx: Context, candidate_id: int) -> Any:
    for cand in ctx.app.kb.list_candidates(None):
        if cand.id == candidate_id:
            if cand.status != "pending":
                raise CommandError(f"Candidate #{candidate_id} is already {cand.status}.")
            return cand
    raise CommandError(f"There is no candidate #{candidate_id} (see `/deskhand kb candidates`).")


PROPOSALS = "kb_edit_proposals"  # settings key: candidate id -> edits waiting for a second person


def _text_edits(cand: Any, edits: dict[str, str]) -> dict[str, str]:
    """An edited answer body: text no member has seen from staff, so a second person checks it.

    Titles and topics are labels; the body is what the bot will quote as fact.
    """
    body = edits.get("body")
    return {"body": body} if body is not None and body.strip() != cand.answer.strip() else {}


def _proposals(ctx: Context) -> dict[str, Any]:
    return dict(ctx.app.settings.get(PROPOSALS) or {})


def _propose(ctx: Context, candidate_id: int, edits: dict[str, str]) -> CommandResult:
    """Staff edited the text: keep it for a second approval instead of publishing it."""
    proposals = _proposals(ctx)
    proposals[str(candidate_id)] = {"by": ctx.actor, "edits": edits}
    ctx.app.settings.record(PROPOSALS, proposals)
    ctx.audit(
        "kb approve proposed",
        f"candidate:{candidate_id}",
        {"candidate": candidate_id, "status": "pending"},
        {"candidate": candidate_id, "edits": edits, "waiting_for": "second approval"},
    )
    return ctx.ok(
        "Waiting for a second approval",
        f"Candidate #{candidate_id} was edited, so it is not published yet: an admin, or another "
        f"staff member with `/deskhand kb approve {candidate_id} --second`, publishes your text. "
        f"Publishing it unedited needs no second person: `/deskhand kb approve {candidate_id} "
        "--as-is`.",
    )


def _second_approval(ctx: Context, candidate_id: int, force: bool) -> CommandResult:
    """Publish edits proposed by someone else (a proposer cannot approve their own edit)."""
    proposal = _proposals(ctx).get(str(candidate_id))
    if not proposal:
        raise CommandError(f"Candidate #{candidate_id} has no edited text waiting for approval.")
    if proposal.get("by") == ctx.actor and ctx.role != "admin":
        raise CommandError(
            f"You proposed the edit of candidate #{candidate_id}; another staff member or an "
            "admin has to approve it."
        )
    return _approve(ctx, candidate_id, dict(proposal.get("edits") or {}), force, second=True)


def _approve(
    ctx: Context,
    candidate_id: int,
    values: dict[str, str],
    force: bool = False,
    second: bool = False,
) -> CommandResult:
    edits = {k: v for k, v in values.items() if k in {"title", "body", "topic"} and v and v.strip()}
    cand = _candidate(ctx, candidate_id)
    if ctx.role != "admin" and not second and _text_edits(cand, edits):
        return _propose(ctx, candidate_id, edits)
    findings = lint_article(
        edits.get("title", cand.question),
        edits.get("body", cand.answer),
        allowed=ctx.app.settings.get("allowed_domains") or [],
    )
    if findings and not (force and ctx.role == "admin"):
        raise CommandError(
            f"Candidate #{candidate_id} was not published; the safety lint found:\n"
            + "\n".join(f"- {f}" for f in findings)
            + "\nEdit it, or an admin can publish it anyway with "
            f"`/deskhand kb approve {candidate_id} --as-is --force`."
        )
    art = ctx.app.kb.approve_candidate(candidate_id, ctx.actor, **edits)
    learned = learn_from_approval(
        ctx.app, candidate_id, cand.ticket_id, ctx.actor, ctx.caller.platform
    )
    proposals = _proposals(ctx)
    if proposals.pop(str(candidate_id), None) is not None:
        ctx.app.settings.record(PROPOSALS, proposals)
    audit_id = ctx.audit(
        "kb approve",
        f"candidate:{candidate_id}",
        {"candidate": candidate_id, "status": "pending"},
        {"candidate": candidate_id, "status": "approved", "article": article_view(art)},
    )
    return ctx.ok(
        "Candidate approved",
        f"Candidate #{candidate_id} is now article **#{art.id} {art.title}**. "
        f"Edit it with `/deskhand kb edit {art.id}`; undo: `/deskhand audit undo {audit_id}`."
        + _learned_text(learned),
    )


def _learned_text(plans: list[Plan]) -> str:
    """What the classifier got from the approval, in one sentence (nothing when nothing)."""
    trained = sum(p.train for p in plans)
    held = sum(p.held_back for p in plans)
    if not trained and not held:
        return ""
    return (
        f" The member question(s) became {trained} classifier example(s)"
        + (f" and {held} held-back case(s)" if held else "")
        + "; it retrains in the background."
    )


@command(
    "kb reject",
    "kb reject ID",
    "Reject a candidate.",
    role="staff",
    examples=("kb reject 4",),
)
def kb_reject(ctx: Context, args: list[str]) -> CommandResult:
    """Reject and audit."""
    if len(args) != 1:
        raise UsageError("Give one candidate ID.")
    candidate_id = _id(args, "candidate ID")
    cand = ctx.app.kb.reject_candidate(candidate_id, ctx.actor)
    audit_id = ctx.audit(
        "kb reject",
        f"candidate:{candidate_id}",
        {"candidate": candidate_id, "status": "pending"},
        {"candidate": candidate_id, "status": cand.status},
    )
    return ctx.ok(
        "Candidate rejected",
        f"Candidate #{candidate_id} rejected. Undo: `/deskhand audit undo {audit_id}`.",
    )


@command(
    "kb domains",
    "kb domains [DOMAIN ...]",
    "Show or set the domains articles may link to or give addresses at (others are flagged).",
    examples=("kb domains", "kb domains lumen.example status.lumen.example"),
)
def kb_domains(ctx: Context, args: list[str]) -> CommandResult:
    """Show, or replace, the allowed_domains setting (audited)."""
    current = list(ctx.app.settings.get("allowed_domains") or [])
    if not args:
        shown = ", ".join(current) or "none set (link and address checks are off)"
        return ctx.ok("Allowed domains", shown)
    domains = [a.lower().strip("<>").removeprefix("https://").removeprefix("http://").strip("/")
               for a in args]  # fmt: skip
    bad = [d for d in domains if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", d)]
    if bad:
        raise UsageError(f"Not a domain: {', '.join(bad)}. Give names like `help.example.com`.")
    _, audit_id = ctx.set_setting("allowed_domains", domains)
    return ctx.ok(
        "Allowed domains updated",
        f"{', '.join(current) or 'none'} → {', '.join(domains)}. "
        f"Undo: `/deskhand audit undo {audit_id}`.",
    )
