"""`threshold ...`: show, set (validated), reset and preview the confidence thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from admin_commands.contracts import CommandResult
from admin_commands.parsing import UsageError, parse_flags, parse_int, parse_unit, pop_channel
from admin_commands.registry import Context, command
from bot.calibration import recent_decisions, recorded_counts, replay_decisions, replay_route
from bot.improve.history import labelled_cases, replay
from bot.self_calibration import describe

KNOBS = ("answer", "clarify", "margin")


def _pairs(args: list[str]) -> dict[str, float]:
    """Parse `answer 0.7 clarify 0.4` (also `answer=0.7`) into a dict."""
    words: list[str] = []
    for arg in args:
        words += arg.split("=", 1) if "=" in arg else [arg]
    if len(words) % 2:
        raise UsageError("Give each threshold as NAME VALUE, e.g. `answer 0.72 clarify 0.45`.")
    values: dict[str, float] = {}
    for name, raw in zip(words[::2], words[1::2], strict=True):
        key = name.lower()
        if key not in KNOBS:
            raise UsageError(f"Unknown threshold `{name}`; use answer, clarify or margin.")
        values[key] = parse_unit(raw, key)
    if not values:
        raise UsageError("Give at least one threshold, e.g. `answer 0.72`.")
    return values


def check_order(merged: Mapping[str, Any]) -> None:
    """0 ≤ clarify ≤ answer ≤ 1, or a usage error that says what the values would be."""
    if not 0 <= merged["clarify"] <= merged["answer"] <= 1:
        raise UsageError(
            f"Thresholds must satisfy 0 ≤ clarify ≤ answer ≤ 1; that would make clarify "
            f"{merged['clarify']:.2f} and answer {merged['answer']:.2f}."
        )


def _knob(th: Mapping[str, Any], name: str) -> float:
    """One threshold by name (the names come from the parsed command)."""
    return float(th[name])


def _fmt(th: Mapping[str, Any]) -> str:
    return (
        f"answer ≥ {th['answer']:.2f}, clarify ≥ {th['clarify']:.2f}, margin {th['margin']:.2f}, "
        f"off-topic below domain score {th.get('domain_margin', 0.0):+.2f}"
    )


@command(
    "threshold show",
    "threshold show [#channel]",
    "Current thresholds (global and per-channel overrides).",
    role="staff",
    examples=("threshold show", "threshold show #help"),
)
def threshold_show(ctx: Context, args: list[str]) -> CommandResult:
    """Global values, this channel's effective values and every override."""
    rest, channel = pop_channel(args, ctx.caller.channel_id)
    if rest:
        raise UsageError("`threshold show` takes only an optional #channel.")
    settings = ctx.app.settings
    overrides = settings.get("channel_thresholds") or {}
    rows = [["Scope", "Answer", "Clarify", "Margin"]]
    glob = settings.thresholds()
    rows.append(
        ["global", f"{glob['answer']:.2f}", f"{glob['clarify']:.2f}", f"{glob['margin']:.2f}"]
    )
    for chan in sorted(overrides):
        eff = settings.thresholds(chan)
        rows.append(
            [f"#{chan}", f"{eff['answer']:.2f}", f"{eff['clarify']:.2f}", f"{eff['margin']:.2f}"]
        )
    here = settings.thresholds(channel) if channel else glob
    return ctx.ok(
        "Thresholds",
        f"Answer when confidence ≥ answer, clarify between clarify and answer, escalate below "
        f"clarify (hard triggers always escalate).\nIn {'#' + channel if channel else 'general'}: "
        f"{_fmt(here)}.\n{describe(settings.get('calibration') or {}, settings.get('calibration_failure'))}",
        table=rows,
    )


@command(
    "threshold set",
    "threshold set [answer X] [clarify Y] [margin Z] [#channel]",
    "Change thresholds globally or for one channel (0 ≤ clarify ≤ answer ≤ 1).",
    examples=("threshold set answer 0.72 clarify 0.45", "threshold set answer 0.8 #billing-help"),
)
def threshold_set(ctx: Context, args: list[str]) -> CommandResult:
    """Validate against the effective values, then store (audited)."""
    rest, channel = pop_channel(args, "")
    values = _pairs(rest)
    settings = ctx.app.settings
    before_eff = settings.thresholds(channel)
    check_order({**before_eff, **values})
    if channel:
        overrides = settings.get("channel_thresholds") or {}
        overrides[channel] = {**overrides.get(channel, {}), **values}
        _, audit_id = ctx.set_setting("channel_thresholds", overrides)
        where = f"#{channel}"
    else:
        current = settings.stored("thresholds")
        if current is None:  # first change: keep the self-calibrated answer unless it is being set
            current = {k: v for k, v in settings.get("thresholds").items() if k != "answer"}
        _, audit_id = ctx.set_setting("thresholds", {**current, **values})
        where = "all channels without an override"
    after_eff = settings.thresholds(channel)
    return ctx.ok(
        "Thresholds updated",
        f"For {where}: {_fmt(before_eff)} → {_fmt(after_eff)}. Applies from the next message. "
        f"Undo: `/deskhand audit undo {audit_id}`.",
        fields=[(k, f"{_knob(before_eff, k):.2f} → {_knob(after_eff, k):.2f}") for k in values],
    )


@command(
    "threshold reset",
    "threshold reset [#channel]",
    "Back to the defaults (global), or drop one channel's override.",
    examples=("threshold reset", "threshold reset #billing-help"),
)
def threshold_reset(ctx: Context, args: list[str]) -> CommandResult:
    """The inverse of `threshold set`."""
    rest, channel = pop_channel(args, "")
    if rest:
        raise UsageError("`threshold reset` takes only an optional #channel.")
    settings = ctx.app.settings
    if channel:
        overrides = settings.get("channel_thresholds") or {}
        if channel not in overrides:
            return ctx.ok("No override", f"#{channel} has no threshold override.")
        overrides.pop(channel)
        _, audit_id = ctx.set_setting("channel_thresholds", overrides)
        text = f"#{channel} now uses the global thresholds: {_fmt(settings.thresholds(channel))}."
    else:
        _, audit_id = ctx.set_setting("thresholds", {})
        text = f"Global thresholds back to the defaults: {_fmt(settings.thresholds())}."
    return ctx.ok("Thresholds reset", f"{text} Undo: `/deskhand audit undo {audit_id}`.")


@command(
    "threshold preview",
    "threshold preview [answer X] [clarify Y] [#channel] [--days N]",
    "How recent questions would have been routed under proposed thresholds (changes nothing).",
    role="staff",
    examples=("threshold preview answer 0.8", "threshold preview answer 0.7 clarify 0.5 --days 7"),
)
def threshold_preview(ctx: Context, args: list[str]) -> CommandResult:
    """Replay recent decisions under current and proposed values."""
    positional, flags = parse_flags(args, valued={"days"})
    rest, channel = pop_channel(positional, "")
    values = _pairs(rest)
    days = parse_int(str(flags.get("days", "30")), "--days", 1, 365)
    settings = ctx.app.settings
    overrides = settings.get("channel_thresholds") or {}
    current = settings.thresholds()
    if channel:
        current = settings.thresholds(channel)
        proposed = {**current, **values}
        proposed_overrides: dict[str, dict[str, Any]] = {}  # per channel: channel -> knobs
        current_overrides: dict[str, dict[str, Any]] = {}
    else:
        proposed = {**current, **values}
        proposed_overrides = current_overrides = overrides
    check_order(proposed)
    decisions = recent_decisions(ctx.app.engine, days=days, channel_id=channel)
    if not decisions:
        return ctx.ok(
            "Nothing to replay",
            f"No decisions in the last {days} days{' in #' + channel if channel else ''}.",
        )
    now = replay_decisions(decisions, current, current_overrides)
    new = replay_decisions(decisions, proposed, proposed_overrides)
    recorded = recorded_counts(decisions)
    moved = sum(
        replay_route(d, {**current, **current_overrides.get(d.channel_id, {})})
        != replay_route(d, {**proposed, **proposed_overrides.get(d.channel_id, {})})
        for d in decisions
    )
    rows = [["Route", "Recorded", "Current", "Proposed", "Change"]]
    for route in ("answer", "clarify", "escalate"):
        delta = new[route] - now[route]
        rows.append([route, str(recorded[route]), str(now[route]), str(new[route]), f"{delta:+d}"])
    fields = [("Decisions", str(new["total"])), ("Would change", str(moved))]
    cases = labelled_cases(ctx.app.engine)
    if cases:  # the `eval history` regression cases, replayed through the real graph
        passed_now = sum(r.passed for r in replay(ctx.app, cases))
        passed_new = sum(r.passed for r in replay(ctx.app, cases, values))
        fields.append(
            ("History cases passing", f"{passed_now}/{len(cases)} → {passed_new}/{len(cases)}")
        )
    note = ""
    if not channel and overrides:
        note = f" Channels with their own override ({len(overrides)}) keep it."
    return ctx.ok(
        "Threshold preview",
        f"Replaying {new['total']} decision(s) from the last {days} days"
        f"{' in #' + channel if channel else ''}: current {_fmt(current)} vs proposed "
        f"{_fmt(proposed)}. {new['fixed']} are fixed (hard triggers, out of scope, handoff "
        f"types, button presses) and stay as they were.{note} Nothing was changed; apply with "
        f"`/deskhand threshold set {' '.join(f'{k} {v}' for k, v in values.items())}"
        f"{' #' + channel if channel else ''}`.",
        table=rows,
        fields=fields,
    )
