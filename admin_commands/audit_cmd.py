"""`audit ...`: the last changes (who, what, before → after) and `audit undo ID` to reverse one."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, select

from admin_commands.contracts import CommandResult
from admin_commands.parsing import CommandError, UsageError, clip, parse_flags, parse_int
from admin_commands.registry import Context, command
from bot.audit import recent_audit
from bot.experiments import ExperimentError, Experiments
from bot.models import AuditEntry, IssueType
from knowledge.models import KbCandidate

MISSING = object()


def _short(value: Any) -> str:
    if value is None or value is MISSING:
        return "∅"
    if isinstance(value, str):
        return clip(value, 40) or '""'
    return clip(json.dumps(value, default=str, ensure_ascii=False), 60)


def diff(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Human-readable changes, recursing into dicts so big settings show only what changed."""
    if isinstance(before, dict) and isinstance(after, dict):
        lines: list[str] = []
        for key in sorted(set(before) | set(after), key=str):
            old, new = before.get(key, MISSING), after.get(key, MISSING)
            if old != new:
                if isinstance(old, dict) and isinstance(new, dict):
                    lines += diff(old, new, f"{prefix}{key}.")
                else:
                    lines.append(f"{prefix}{key}: {_short(old)} → {_short(new)}")
        return lines or [f"{prefix.rstrip('.') or 'value'}: unchanged"]
    label = prefix.rstrip(".")
    return [f"{label + ': ' if label else ''}{_short(before)} → {_short(after)}"]


def describe_entry(entry: AuditEntry) -> str:
    """One entry's change as text."""
    before, after = json.loads(entry.before or "null"), json.loads(entry.after or "null")
    if entry.action == "refused":
        return f"refused (role {before.get('role')}, needs {after.get('needs')})"
    return "; ".join(diff(before, after))


@command(
    "audit",
    "audit [N]",
    "The last N changes (default 10): who, what, before → after.",
    examples=("audit", "audit 25"),
)
def audit_list(ctx: Context, args: list[str]) -> CommandResult:
    """Newest first."""
    if len(args) > 1:
        raise UsageError("Give at most one number.")
    limit = parse_int(args[0], "N", 1, 100) if args else 10
    entries = recent_audit(ctx.app.engine, limit)
    if not entries:
        return ctx.ok("Audit log", "No changes recorded yet.")
    rows = [["ID", "When (UTC)", "Who", "Action", "Target", "Before → after"]]
    for e in entries:
        rows.append(
            [
                str(e.id),
                e.created_at.strftime("%m-%d %H:%M"),
                clip(e.actor, 30),
                e.action,
                clip(e.target, 30),
                clip(describe_entry(e), 160),
            ]
        )
    return ctx.ok(
        "Audit log",
        f"Last {len(entries)} change(s), newest first. Reverse one with `/deskhand audit undo ID`.",
        table=rows,
    )


@command(
    "audit undo",
    "audit undo ID [--force]",
    "Reverse one change from the audit log (itself audited).",
    examples=("audit undo 42",),
)
def audit_undo(ctx: Context, args: list[str]) -> CommandResult:
    """Apply the inverse of an audited change."""
    positional, flags = parse_flags(args, switches={"force"})
    if len(positional) != 1:
        raise UsageError("Give the audit entry ID (see `/deskhand audit`).")
    entry_id = parse_int(positional[0], "ID", 1, 10**9)
    with Session(ctx.app.engine) as session:
        entry = session.get(AuditEntry, entry_id)
        undone = session.exec(
            select(AuditEntry.id).where(
                AuditEntry.action == "undo", AuditEntry.target == f"audit:{entry_id}"
            )
        ).first()
    if entry is None:
        raise CommandError(f"There is no audit entry #{entry_id}.")
    if undone and not flags.get("force"):
        raise CommandError(f"#{entry_id} was already undone (#{undone}); add --force to repeat.")
    before, after = json.loads(entry.before or "null"), json.loads(entry.after or "null")
    summary = _undo(ctx, entry, before, after, bool(flags.get("force")))
    audit_id = ctx.audit("undo", f"audit:{entry_id}", after, before)
    return ctx.ok(
        "Change undone",
        f"Undid #{entry_id} ({entry.action} {entry.target}): {summary}. Logged as #{audit_id}.",
    )


def _undo(ctx: Context, entry: AuditEntry, before: Any, after: Any, force: bool) -> str:
    action, app = entry.action, ctx.app
    if action.startswith("set "):
        key = action[4:]
        current = app.settings.get(key)
        if current != after and not force:
            raise CommandError(
                f"`{key}` has changed since #{entry.id}; undo later changes first, or add --force."
            )
        ctx.set_setting(key, before)
        return "; ".join(diff(after, before))
    if action in {"scope add", "scope remove"}:
        if before is None:
            app.scope.remove(entry.target, actor=ctx.actor, platform=ctx.caller.platform)
            return f"removed issue type {entry.target}"
        fields = {
            k: v for k, v in before.items() if k in IssueType.model_fields and k != "updated_at"
        }
        app.scope.upsert(IssueType(**fields), actor=ctx.actor, platform=ctx.caller.platform)
        return f"restored issue type {entry.target}"
    if action == "kb add":
        app.kb.remove_article(int(after["id"]), actor=ctx.actor)
        return f"removed article #{after['id']}"
    if action in {"kb edit", "kb revert"}:
        art = app.kb.revert(int(before["id"]), int(before["version"]), actor=ctx.actor)
        return f"article #{art.id} has the text of version {before['version']} again"
    if action == "kb remove":
        art = app.kb.add_article(
            title=before["title"],
            body=before["body"],
            url=before.get("url", ""),
            topic=before.get("topic", "general"),
            tags=before.get("tags", ""),
            owner=before.get("owner", ""),
            actor=ctx.actor,
        )
        return f"restored as article #{art.id} (ids are not reused)"
    if action == "kb import":
        for article_id in after.get("added", []):
            app.kb.remove_article(int(article_id), actor=ctx.actor)
        for article_id, version in (before or {}).items():
            app.kb.revert(int(article_id), int(version), actor=ctx.actor)
        return f"removed {len(after.get('added', []))}, reverted {len(before or {})}"
    if action.startswith("experiment "):
        try:
            return Experiments(app.engine, app.kb).undo(entry, force)
        except ExperimentError as exc:
            raise CommandError(str(exc)) from None
    if action in {"kb approve", "kb reject"}:
        if action == "kb approve":  # removes a new article, reverts an edited one
            version = (after.get("article") or {}).get("version")
            app.kb.withdraw_candidate(int(before["candidate"]), ctx.actor, version)
        else:
            _reopen_candidate(ctx, int(before["candidate"]))
        return f"candidate #{before['candidate']} is pending again"
    raise CommandError(f"`{action}` entries cannot be undone automatically.")


def _reopen_candidate(ctx: Context, candidate_id: int) -> None:
    with Session(ctx.app.engine) as session:
        cand = session.get(KbCandidate, candidate_id)
        if cand is None:
            raise CommandError(f"Candidate #{candidate_id} no longer exists.")
        cand.status, cand.article_id, cand.reviewed_by, cand.reviewed_at = "pending", None, "", None
        session.add(cand)
        session.commit()
