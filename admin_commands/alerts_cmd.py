"""`alerts show|set|mute|unmute|check`: the always-on alerts, and what adapters post for them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from admin_commands.contracts import CommandResult
from admin_commands.parsing import UsageError, channel_id
from admin_commands.registry import Context, command
from bot.charts_extra import with_chart_note
from bot.models import AlertEvent
from bot.monitoring.alerts import alert_settings, pending_messages, run_checks
from bot.monitoring.charts import render_lines
from bot.monitoring.detectors import DEFAULT_THRESHOLDS
from bot.monitoring.periods import parse_period
from knowledge.models import utcnow

if TYPE_CHECKING:  # bot.app imports the core modules
    from bot.app import Deskhand

PLATFORMS = ("slack", "discord")
MUTE_KINDS = (
    "volume_spike",
    "escalation_spike",
    "not_helpful_spike",
    "unanswered_cluster",
    "rising_turns",
    "rising_clarification",
    "llm_failures",
    "outbox_failures",
    "sla",
    "sla_reminder",
    "sla_oncall",
    "urgent_ticket",
)


def alert_posts(app: Deskhand, platform: str) -> list[tuple[int, str, CommandResult]]:
    """(alert id, channel, result) for every alert this platform still has to post."""
    posts = []
    for msg in pending_messages(app, platform):
        png = render_lines(msg.chart) if msg.chart else None
        posts.append(
            (
                msg.event_id,
                msg.channel,
                CommandResult(
                    ok=True,
                    title=msg.title,
                    text=with_chart_note(msg.text, png) if msg.chart else msg.text,
                    fields=msg.fields,
                    image_png=png,
                    image_name=f"deskhand-alert-{msg.event_id}.png" if msg.chart else "",
                    ephemeral=False,
                ),
            )
        )
    return posts


def _stored(ctx: Context) -> dict[str, Any]:
    return dict(ctx.app.settings.get("alerts") or {})


@command(
    "alerts show",
    "alerts show",
    "Alert thresholds, mutes, channels, on-call mentions and the latest alerts.",
    role="staff",
)
def alerts_show(ctx: Context, args: list[str]) -> CommandResult:
    """Everything that decides what alerts fire and where they go."""
    if args:
        raise UsageError("`alerts show` takes no arguments.")
    cfg = alert_settings(ctx.app.settings.get("alerts"))
    rows = [["Threshold", "Value", "Default"]]
    for name, default in DEFAULT_THRESHOLDS.items():
        value = cfg["thresholds"][name]
        rows.append([name, json.dumps(value), json.dumps(default)])
    with Session(ctx.app.engine) as session:
        latest = list(session.exec(select(AlertEvent).order_by(col(AlertEvent.id).desc()).limit(5)))
    now = utcnow()
    mutes = [f"{k} until {v[:16]}" for k, v in cfg["muted"].items() if v > now.isoformat()]
    fields = [
        ("Muted", ", ".join(mutes) or "nothing"),
        ("Channels", ", ".join(f"{p}: {c}" for p, c in cfg["channels"].items()) or "staff channel"),
        ("On-call", ", ".join(f"{p}: {m}" for p, m in cfg["oncall"].items()) or "not set"),
    ]
    recent = "\n".join(f"- #{e.id} {e.created_at:%m-%d %H:%M} {e.title}" for e in latest)
    return ctx.ok(
        "Alerts",
        "Checked every few minutes; each alert at most once per cooldown. "
        "Change with `/deskhand alerts set NAME VALUE`.\n" + (recent or "No alerts yet."),
        fields=fields,
        table=rows,
    )


def _number(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"`{name}` needs a number, not `{raw}`.") from None
    if value < 0:
        raise UsageError(f"`{name}` cannot be negative.")
    return int(value) if value.is_integer() else value


@command(
    "alerts set",
    "alerts set NAME VALUE | sla TEAM MINUTES | channel PLATFORM #channel | oncall PLATFORM @role",
    "Change an alert threshold, a team's SLA, the alerts channel or the on-call mention.",
    examples=(
        "alerts set rate_delta 0.25",
        "alerts set sla billing 30",
        "alerts set channel slack #alerts",
        "alerts set oncall slack <!subteam^S0ONCALL>",
    ),
)
def alerts_set(ctx: Context, args: list[str]) -> CommandResult:
    """Validate, store (audited) and say how to undo."""
    stored = _stored(ctx)
    thresholds = dict(stored.get("thresholds") or {})
    if len(args) == 3 and args[0].lower() == "sla":
        sla = dict(thresholds.get("sla_minutes") or {})
        sla[args[1].lower()] = _number(args[2], "sla")
        thresholds["sla_minutes"] = sla
        stored["thresholds"] = thresholds
        what = f"SLA for {args[1].lower()}: {args[2]} business minutes to claim"
    elif len(args) == 3 and args[0].lower() in ("channel", "oncall"):
        kind, platform, value = args[0].lower(), args[1].lower(), args[2]
        if platform not in PLATFORMS:
            raise UsageError(f"Platform is slack or discord, not `{platform}`.")
        if kind == "channel":
            value = channel_id(value) or ""
            if not value:
                raise UsageError("Give the alerts channel as #channel.")
        stored[kind + "s" if kind == "channel" else kind] = {
            **(stored.get(kind + "s" if kind == "channel" else kind) or {}),
            platform: value,
        }
        what = f"{kind} on {platform}: {value}"
    elif len(args) == 2:
        name = args[0].lower()
        if name not in DEFAULT_THRESHOLDS or name == "sla_minutes":
            raise UsageError(
                f"Unknown threshold `{name}`; see `/deskhand alerts show` for the names."
            )
        thresholds[name] = _number(args[1], name)
        stored["thresholds"] = thresholds
        what = f"{name} = {thresholds[name]}"
    else:
        raise UsageError(
            "Give NAME VALUE, `sla TEAM MINUTES`, `channel PLATFORM #channel` "
            "or `oncall PLATFORM @role`."
        )
    _, audit_id = ctx.set_setting("alerts", stored)
    return ctx.ok("Alerts updated", f"{what}. Undo: `/deskhand audit undo {audit_id}`.")


@command(
    "alerts mute",
    "alerts mute KIND [24h|7d]",
    "Silence one kind of alert (or one alert key) for a while.",
    role="staff",
    examples=("alerts mute volume_spike 24h", "alerts mute escalation_spike:refunds 7d"),
)
def alerts_mute(ctx: Context, args: list[str]) -> CommandResult:
    """Store a mute until now + period (audited)."""
    if not args or len(args) > 2:
        raise UsageError("Give the alert kind (or key) and optionally a period, e.g. `24h`.")
    name = args[0].lower()
    if name.split(":")[0] not in MUTE_KINDS:
        raise UsageError(f"Unknown alert kind `{name}`; one of {', '.join(MUTE_KINDS)}.")
    try:
        span = parse_period(args[1] if len(args) == 2 else "24h")
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    until = utcnow() + span
    stored = _stored(ctx)
    stored["muted"] = {**(stored.get("muted") or {}), name: until.isoformat(timespec="seconds")}
    _, audit_id = ctx.set_setting("alerts", stored)
    return ctx.ok(
        "Alert muted",
        f"`{name}` is muted until {until:%Y-%m-%d %H:%M} UTC. "
        f"Undo: `/deskhand audit undo {audit_id}`.",
    )


@command("alerts unmute", "alerts unmute KIND", "Lift a mute.", role="staff")
def alerts_unmute(ctx: Context, args: list[str]) -> CommandResult:
    """Remove one mute."""
    if len(args) != 1:
        raise UsageError("Give the alert kind (or key) to unmute.")
    stored = _stored(ctx)
    muted = dict(stored.get("muted") or {})
    if muted.pop(args[0].lower(), None) is None:
        return ctx.ok("Not muted", f"`{args[0]}` was not muted.")
    stored["muted"] = muted
    ctx.set_setting("alerts", stored)
    return ctx.ok("Alert unmuted", f"`{args[0].lower()}` alerts are back on.")


@command(
    "alerts check",
    "alerts check",
    "Run every detector now; new alerts are posted to the alerts channel.",
    role="staff",
)
def alerts_check(ctx: Context, args: list[str]) -> CommandResult:
    """The same detectors the background job runs."""
    if args:
        raise UsageError("`alerts check` takes no arguments.")
    fired = run_checks(ctx.app)
    if not fired:
        return ctx.ok("No new alerts", "Every detector ran; nothing new beyond the cooldown.")
    png = render_lines(fired[0].chart) if fired[0].chart else None
    text = "\n".join(f"- {a.title}: {a.text}" for a in fired)
    return ctx.ok(
        f"{len(fired)} new alert(s)",
        with_chart_note(text, png) if fired[0].chart else text,
        image_png=png,
        image_name="deskhand-alert.png",
    )
