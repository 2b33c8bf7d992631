"""`privacy show|set`: what is dropped, masked or kept in members' messages (audited)."""

from __future__ import annotations

from admin_commands.contracts import CommandResult
from admin_commands.parsing import UsageError, parse_int, user_ref
from admin_commands.registry import Context, command
from bot.privacy.erasure import forget_member
from bot.privacy.redact import KINDS, LABELS, POLICIES, SECRET_KINDS, effective_policy

MEANING = {
    "drop": "placeholder; member warned privately to rotate, message deleted where allowed",
    "mask": "placeholder kept in its place",
    "keep": "stored and sent on as written",
}


@command(
    "privacy show",
    "privacy show",
    "What the bot removes from messages before storing them or sending them to a model.",
    role="staff",
    examples=("privacy show",),
)
def privacy_show(ctx: Context, args: list[str]) -> CommandResult:
    """Each kind with its policy and what that means."""
    if args:
        raise UsageError("`privacy show` takes no arguments.")
    policy = effective_policy(ctx.app.settings.get("privacy"))
    rows = [["Kind", "Policy", "Effect"]]
    rows += [[kind, policy[kind], MEANING[policy[kind]]] for kind in KINDS]
    return ctx.ok(
        "Privacy",
        "Redaction happens where messages enter the bot: nothing below marked drop or mask is "
        "stored, embedded, logged, sent to a model or shown on a staff card.\n"
        "Change with `/deskhand privacy set KIND drop|mask|keep`.",
        table=rows,
    )


@command(
    "privacy set",
    "privacy set card|iban|api_key|password|email|phone drop|mask|keep",
    "Choose whether one kind of sensitive value is dropped, masked or kept.",
    examples=("privacy set phone keep", "privacy set email drop"),
)
def privacy_set(ctx: Context, args: list[str]) -> CommandResult:
    """Validate and store one kind's policy (audited, undoable)."""
    if len(args) != 2:
        raise UsageError("Give a kind and a policy, e.g. `privacy set phone keep`.")
    kind, choice = args[0].lower(), args[1].lower()
    if kind not in KINDS:
        raise UsageError(f"Unknown kind `{args[0]}`: use {', '.join(KINDS)}.")
    if choice not in POLICIES:
        raise UsageError(f"Policy must be drop, mask or keep, not `{args[1]}`.")
    policy = effective_policy(ctx.app.settings.get("privacy"))
    before = policy[kind]
    _, audit_id = ctx.set_setting("privacy", {**policy, kind: choice})
    warning = ""
    if choice == "keep" and kind in SECRET_KINDS:
        warning = f" Careful: {LABELS[kind]} will now be stored and sent to the model in clear."
    return ctx.ok(
        "Privacy updated",
        f"{kind}: {before} → {choice}. Applies to the next message.{warning} "
        f"Undo: `/deskhand audit undo {audit_id}`.",
    )


@command(
    "forget",
    "forget @member",
    "Erase everything the bot keeps about a member (messages, tickets' text, conversation memory, logs).",
    examples=("forget @ann",),
    family="privacy",
)
def forget(ctx: Context, args: list[str]) -> CommandResult:
    """Erase one member on the caller's platform; the audit entry keeps counts, not text."""
    if len(args) != 1 or not user_ref(args[0]):
        raise UsageError("Name one member, e.g. `forget @ann` (or their user id).")
    member = f"{ctx.caller.platform}:{user_ref(args[0])}"
    counts = forget_member(ctx.app.engine, member, actor=ctx.actor, via=ctx.caller.platform)
    return ctx.ok(
        "Member forgotten",
        f"Erased {member}: "
        + ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in counts.items())
        + ". Statistics keep anonymous counts only.",
    )


@command(
    "privacy retention",
    "privacy retention DAYS",
    "Erase conversations untouched for DAYS days, daily (0 keeps them forever).",
    examples=("privacy retention 90",),
)
def privacy_retention(ctx: Context, args: list[str]) -> CommandResult:
    """Set retention_days (audited)."""
    if len(args) != 1:
        raise UsageError("Give a number of days, e.g. `privacy retention 90` (0 = keep forever).")
    days = parse_int(args[0], "days", low=0, high=36_500)
    before, audit_id = ctx.set_setting("retention_days", days)
    return ctx.ok(
        "Retention updated",
        f"retention_days: {before} → {days}. "
        + ("Conversations are kept until erased." if days == 0 else "The purge runs daily.")
        + f" Undo: `/deskhand audit undo {audit_id}`.",
    )
