"""`outbox ...`: what is waiting or dead in the outbox, and retry or drop one item (audited)."""

from __future__ import annotations

from admin_commands.contracts import CommandResult
from admin_commands.parsing import CommandError, UsageError, clip, parse_flags, parse_int
from admin_commands.registry import Context, command
from bot.outbox import describe


@command(
    "outbox",
    "outbox [--dead] [--platform slack|discord]",
    "Side effects still waiting or dead (cards, relays, replies, alerts).",
    examples=("outbox", "outbox --dead"),
)
def outbox_list(ctx: Context, args: list[str]) -> CommandResult:
    """Oldest first; dead items need `outbox retry ID` or `outbox drop ID`."""
    positional, flags = parse_flags(args, valued={"platform"}, switches={"dead"})
    if positional:
        raise UsageError("`outbox` takes no words; use `outbox retry ID` or `outbox drop ID`.")
    status = "dead" if flags.get("dead") else None
    items = ctx.app.outbox.items(status=status, platform=str(flags.get("platform") or "") or None)
    if not items:
        return ctx.ok("Outbox", "Nothing is waiting and nothing is dead.")
    rows = [["ID", "Platform", "Kind", "Status", "Tries", "Last error", "Next try (UTC)"]]
    for item in items[:50]:
        view = describe(item)
        rows.append(
            [
                str(view["id"]),
                view["platform"],
                view["kind"] + (f" #{view['ticket_id']}" if view["ticket_id"] else ""),
                view["status"],
                str(view["attempts"]),
                clip(view["last_error"] or "-", 60),
                item.next_attempt_at.strftime("%m-%d %H:%M") if item.status == "pending" else "-",
            ]
        )
    dead = sum(1 for i in items if i.status == "dead")
    more = f" (showing the first 50 of {len(items)})" if len(items) > 50 else ""
    return ctx.ok(
        "Outbox",
        f"{len(items) - dead} waiting, {dead} dead{more}. "
        "`/deskhand outbox retry ID` tries a dead item again; `/deskhand outbox drop ID` gives up.",
        table=rows,
    )


def _item_id(args: list[str]) -> int:
    if len(args) != 1:
        raise UsageError("Give one outbox item ID (see `/deskhand outbox`).")
    return parse_int(args[0], "ID", 1, 10**12)


@command(
    "outbox retry",
    "outbox retry ID",
    "Try a dead (or waiting) outbox item again now, with a fresh set of attempts.",
    examples=("outbox retry 12",),
)
def outbox_retry(ctx: Context, args: list[str]) -> CommandResult:
    """Revive one item; audited."""
    item_id = _item_id(args)
    before = ctx.app.outbox.get(item_id)
    try:
        item = ctx.app.outbox.retry(item_id)
    except ValueError as err:
        raise CommandError(str(err)) from err
    audit_id = ctx.audit(
        "outbox retry",
        f"outbox:{item_id}",
        {"status": before.status, "attempts": before.attempts} if before else None,
        {"status": item.status, "attempts": item.attempts},
    )
    return ctx.ok(
        "Outbox item queued",
        f"#{item_id} ({item.kind}) will be sent on the next retry pass. Logged as #{audit_id}.",
    )


@command(
    "outbox drop",
    "outbox drop ID",
    "Give up on one outbox item on purpose (kept as 'dropped' for the record).",
    examples=("outbox drop 12",),
)
def outbox_drop(ctx: Context, args: list[str]) -> CommandResult:
    """Discard one item; audited."""
    item_id = _item_id(args)
    before = ctx.app.outbox.get(item_id)
    try:
        item = ctx.app.outbox.drop(item_id)
    except ValueError as err:
        raise CommandError(str(err)) from err
    audit_id = ctx.audit(
        "outbox drop",
        f"outbox:{item_id}",
        {"status": before.status if before else None},
        {"status": item.status},
    )
    return ctx.ok(
        "Outbox item dropped", f"#{item_id} ({item.kind}) will not be sent. Logged as #{audit_id}."
    )
