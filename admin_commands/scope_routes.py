"""`scope ...` and `route ...`: issue types with example phrasings, and where escalations go."""

from __future__ import annotations

import json

from admin_commands.contracts import CommandResult
from admin_commands.parsing import CommandError, UsageError, channel_id, clip, parse_flags
from admin_commands.registry import Context, command
from bot.models import IssueType
from bot.scope import describe

PLATFORMS = ("slack", "discord")


def _get(ctx: Context, name: str) -> IssueType | None:
    return next((r for r in ctx.app.scope.all() if r.name == name), None)


@command(
    "scope list",
    "scope list [NAME]",
    "Issue types the bot handles and topics it refuses (or one type with its examples).",
    role="staff",
    examples=("scope list", "scope list billing"),
)
def scope_list(ctx: Context, args: list[str]) -> CommandResult:
    """A table of the scope, or one entry in full."""
    if len(args) > 1:
        raise UsageError("Give at most one issue type name.")
    if args:
        row = _get(ctx, args[0])
        if row is None:
            raise CommandError(f"There is no issue type `{args[0]}` (see `/deskhand scope list`).")
        info = describe(row)
        return ctx.ok(
            f"Issue type {row.name}",
            "\n".join(f"- “{e}”" for e in info["examples"]) or "(no examples)",
            fields=[
                ("In scope", "yes" if row.in_scope else "no (refused)"),
                ("Team", row.team or "—"),
                ("Needs a person", "yes" if row.handoff else "no"),
                ("Description", row.description or "—"),
            ],
        )
    rows = [["Name", "Kind", "Team", "Handoff", "Examples"]]
    for row in ctx.app.scope.all():
        info = describe(row)
        rows.append(
            [
                row.name,
                "in scope" if row.in_scope else "out of scope",
                row.team or "—",
                "yes" if row.handoff else "no",
                str(len(info["examples"])),
            ]
        )
    return ctx.ok("Scope", f"{len(rows) - 1} issue type(s).", table=rows)


@command(
    "scope add",
    'scope add NAME "phrase one" "phrase two" [--team T] [--out] [--handoff] [--description D]',
    "Add an issue type, or more example phrasings to one (--out: a topic the bot refuses).",
    examples=(
        'scope add refunds "can I get my money back" "refund my order" --team billing',
        'scope add crypto "should I buy bitcoin" "is eth a good investment" --out',
    ),
)
def scope_add(ctx: Context, args: list[str]) -> CommandResult:
    """Upsert an issue type; examples are merged; the classifier retrains on the next message."""
    positional, flags = parse_flags(
        args,
        valued={"team", "description", "resolution"},
        switches={"out", "in", "handoff", "no-handoff"},
    )
    if not positional:
        raise UsageError("Give the issue type name and at least two example phrasings.")
    name, phrases = positional[0], [p.strip() for p in positional[1:] if p.strip()]
    if not phrases and not flags:
        raise UsageError(
            f"Give example phrasings in quotes (at least two for a new type) for `{name}`."
        )
    if not name.replace("-", "").replace("_", "").isalnum():
        raise UsageError(f"`{name}` is not a good name: use letters, digits, - and _.")
    old = _get(ctx, name)
    examples = json.loads(old.examples) if old else []
    examples += [p for p in phrases if p not in examples]
    if len(examples) < 2:
        raise UsageError(f"`{name}` needs at least two example phrasings in quotes.")
    in_scope = (
        not flags.get("out") if ("out" in flags or "in" in flags or not old) else old.in_scope
    )
    if "in" in flags:
        in_scope = True
    handoff = old.handoff if old else False
    if "handoff" in flags or "no-handoff" in flags:
        handoff = "handoff" in flags
    row = IssueType(
        name=name,
        description=str(flags.get("description", old.description if old else "")),
        examples=json.dumps(examples),
        resolution=str(flags.get("resolution", old.resolution if old else "")),
        handoff=handoff,
        in_scope=in_scope,
        team=str(flags.get("team", old.team if old else ("support" if in_scope else ""))),
        topics=old.topics if old else "",
    )
    ctx.app.scope.upsert(row, actor=ctx.actor, platform=ctx.caller.platform)
    audit_id = ctx.last_audit("scope ")
    verb = "Updated" if old else "Added"
    kind = "in scope" if in_scope else "out of scope (refused, handed to a person)"
    return ctx.ok(
        f"Scope {verb.lower()}",
        f"{verb} `{name}` ({kind}) with {len(examples)} example(s); the classifier retrains "
        f"before the next message. Undo: `/deskhand audit undo {audit_id}`.",
    )


@command(
    "scope remove",
    'scope remove NAME ["phrase" ...]',
    "Remove an issue type, or only some of its example phrasings.",
    examples=("scope remove crypto", 'scope remove refunds "refund my order"'),
)
def scope_remove(ctx: Context, args: list[str]) -> CommandResult:
    """Remove a type (or examples); the classifier retrains on the next message."""
    if not args:
        raise UsageError("Give the issue type name.")
    name, phrases = args[0], args[1:]
    old = _get(ctx, name)
    if old is None:
        raise CommandError(f"There is no issue type `{name}` (see `/deskhand scope list`).")
    if phrases:
        examples = json.loads(old.examples)
        missing = [p for p in phrases if p not in examples]
        if missing:
            raise CommandError(f"`{name}` has no example “{clip(missing[0], 60)}”.")
        kept = [e for e in examples if e not in phrases]
        if len(kept) < 2:
            raise CommandError(
                f"`{name}` must keep at least two examples; remove the type instead."
            )
        row = IssueType(**{**old.model_dump(), "examples": json.dumps(kept)})
        ctx.app.scope.upsert(row, actor=ctx.actor, platform=ctx.caller.platform)
        text = f"Removed {len(phrases)} example(s) from `{name}`"
    else:
        ctx.app.scope.remove(name, actor=ctx.actor, platform=ctx.caller.platform)
        text = f"Removed issue type `{name}`"
    audit_id = ctx.last_audit("scope ")
    return ctx.ok(
        "Scope updated",
        f"{text}; the classifier retrains before the next message. "
        f"Undo: `/deskhand audit undo {audit_id}`.",
    )


# ---- routes --------------------------------------------------------------------------------------
@command(
    "route set",
    "route set ISSUE_TYPE|TEAM #channel",
    "Send escalations of an issue type (or team) to a staff channel on this platform.",
    examples=("route set billing #billing-staff",),
)
def route_set(ctx: Context, args: list[str]) -> CommandResult:
    """Store routes[key][platform] = channel id (audited)."""
    if len(args) != 2:
        raise UsageError("Give an issue type (or team) and a #channel.")
    key, chan = args[0], channel_id(args[1])
    if chan is None:
        raise UsageError(f"`{args[1]}` is not a channel mention or id.")
    rows = ctx.app.scope.all()
    known = {r.name for r in rows} | {r.team for r in rows if r.team} | {"support"}
    if key not in known:
        raise CommandError(
            f"`{key}` is neither an issue type nor a team. Known: {', '.join(sorted(known))}."
        )
    routes = ctx.app.settings.get("routes") or {}
    old = routes.get(key, {}).get(ctx.caller.platform, "")
    routes[key] = {**routes.get(key, {}), ctx.caller.platform: chan}
    _, audit_id = ctx.set_setting("routes", routes)
    return ctx.ok(
        "Route set",
        f"Escalations of `{key}` on {ctx.caller.platform} now go to #{chan}"
        f"{f' (was #{old})' if old else ''}. Undo: `/deskhand audit undo {audit_id}`.",
    )


@command(
    "route remove",
    "route remove ISSUE_TYPE|TEAM",
    "Send escalations of an issue type back to the default staff channel.",
    examples=("route remove billing",),
)
def route_remove(ctx: Context, args: list[str]) -> CommandResult:
    """The inverse of route set (for this platform)."""
    if len(args) != 1:
        raise UsageError("Give one issue type or team.")
    routes = ctx.app.settings.get("routes") or {}
    if ctx.caller.platform not in routes.get(args[0], {}):
        raise CommandError(f"`{args[0]}` has no route on {ctx.caller.platform}.")
    routes[args[0]].pop(ctx.caller.platform)
    if not routes[args[0]]:
        routes.pop(args[0])
    _, audit_id = ctx.set_setting("routes", routes)
    return ctx.ok(
        "Route removed",
        f"`{args[0]}` escalations go to the default staff channel. "
        f"Undo: `/deskhand audit undo {audit_id}`.",
    )


@command(
    "route list",
    "route list",
    "Where escalations of each issue type or team go.",
    role="staff",
    examples=("route list",),
)
def route_list(ctx: Context, args: list[str]) -> CommandResult:
    """A table of routes on both platforms."""
    if args:
        raise UsageError("`route list` takes no arguments.")
    routes = ctx.app.settings.get("routes") or {}
    config = ctx.app.config
    default = {
        "slack": config.slack_escalation_channel or "—",
        "discord": config.discord_escalation_channel or "—",
    }
    rows = [
        ["Issue type / team", "Slack", "Discord"],
        ["(default)", default["slack"], default["discord"]],
    ]
    for key, targets in sorted(routes.items()):
        rows.append([key, *(f"#{targets[p]}" if p in targets else "—" for p in PLATFORMS)])
    return ctx.ok(
        "Routes", f"{len(routes)} route(s); everything else goes to the default.", table=rows
    )
