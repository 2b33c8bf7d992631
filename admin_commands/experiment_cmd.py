"""`experiment ...`: try thresholds, persona, scope or KB drafts on part of the traffic; promote or stop."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, select

from admin_commands.contracts import CommandResult
from admin_commands.parsing import (
    CommandError,
    UsageError,
    channel_id,
    parse_flags,
    parse_int,
    parse_unit,
)
from admin_commands.persona import persona_value
from admin_commands.registry import Context, command
from admin_commands.thresholds import KNOBS, check_order
from bot.experiments import (
    PERSONA_FIELDS,
    CandidateChange,
    ExperimentError,
    Experiments,
    ScopeAddition,
)
from bot.improve.experiment_status import ExperimentStatus, MetricResult, experiment_status
from bot.models import Decision, Experiment

DEFAULT_SHARE = 0.2
NOISE = {"threshold", "thresholds", "persona"}  # optional words that only make a line readable


SCOPE_WORDS = {"scope-in": True, "scope-out": False}
DRAFT_WORDS = {"kb-drafts", "kb-draft", "drafts"}


def _draft_ids(raw: str) -> tuple[int, ...]:
    """`4,5` / `#4 #5` into candidate ids."""
    ids = []
    for token in raw.replace(",", " ").split():
        digits = token.lstrip("#")
        if not digits.isdigit():
            raise UsageError(f"`{token}` is not a KB candidate id (see `kb candidates`).")
        ids.append(int(digits))
    return tuple(dict.fromkeys(ids))


def parse_change(words: list[str]) -> CandidateChange:
    """`answer 0.8 tone formal kb-drafts 4,5 scope-out crypto "buy bitcoin?" "eth price"`."""
    words = [w for w in words if w.lower() not in NOISE]
    if not words:
        raise UsageError(
            "Give the candidate change, e.g. `answer 0.8 clarify 0.5`, `tone formal`, "
            '`kb-drafts 4,5` or `scope-out crypto "buy bitcoin?" "eth price"`.'
        )
    thresholds: dict[str, float] = {}
    persona: dict[str, str] = {}
    scope: list[ScopeAddition] = []
    drafts: tuple[int, ...] = ()
    keywords = {*KNOBS, *PERSONA_FIELDS, *SCOPE_WORDS, *DRAFT_WORDS}
    i = 0
    while i < len(words):
        key = words[i].lower()
        if key in SCOPE_WORDS:
            if i + 1 >= len(words):
                raise UsageError(f"`{key}` needs an issue type and example phrasings in quotes.")
            name, i = words[i + 1], i + 2
            if not name.replace("-", "").replace("_", "").isalnum():
                raise UsageError(f"`{name}` is not a good issue type name: letters, digits, - _.")
            phrases: list[str] = []
            while i < len(words) and words[i].lower() not in keywords:
                phrases += [words[i].strip()] if words[i].strip() else []
                i += 1
            scope.append(ScopeAddition(name, SCOPE_WORDS[key], tuple(phrases)))
            continue
        if i + 1 >= len(words):
            raise UsageError(f"`{words[i]}` needs a value.")
        raw = words[i + 1]
        if key in DRAFT_WORDS:
            drafts = _draft_ids(raw)
        elif key in KNOBS:
            thresholds[key] = parse_unit(raw, key)
        elif key in PERSONA_FIELDS:
            persona[key] = persona_value(key, raw)
        else:
            raise UsageError(
                f"`{words[i]}` is not something an experiment can change: thresholds "
                f"({', '.join(KNOBS)}), persona ({', '.join(PERSONA_FIELDS)}), `kb-drafts IDS` "
                'or `scope-in|scope-out NAME "phrase" …`.'
            )
        i += 2
    return CandidateChange(thresholds, persona, tuple(scope), drafts)


def parse_channels(raw: str) -> list[str]:
    """`#a,#b` (mentions or ids, commas or spaces) into channel ids."""
    ids = []
    for token in raw.replace(",", " ").split():
        found = channel_id(token)
        if found is None:
            raise UsageError(
                f"`{token}` is not a channel I can resolve: mention it or give its id."
            )
        ids.append(found)
    if not ids:
        raise UsageError("`--channels` needs at least one channel.")
    return ids


def _pct(value: float) -> str:
    return f"{value * 100:.0f} %"


def _target(exp: Experiment) -> str:
    channels = json.loads(exp.channels or "[]")
    where = " in " + ", ".join(f"#{c}" for c in channels) if channels else ""
    return f"{_pct(exp.share)} of new conversations{where}"


@command(
    "experiment start",
    "experiment start NAME CHANGE [--share 20%] [--channels #a,#b]",
    "Serve a candidate change (thresholds answer/clarify/margin, persona tone/length/signoff/"
    'name, `kb-drafts IDS` of pending KB candidates, `scope-in|scope-out NAME "phrase" …`) to '
    "a share of new conversations, or to chosen channels; the rest stay on the baseline.",
    examples=(
        "experiment start strict answer 0.8 clarify 0.5 --share 20%",
        "experiment start formal persona tone formal --channels #billing-help",
        "experiment start refund-fix kb-drafts 4,5 --share 20%",
        'experiment start no-crypto scope-out crypto "should I buy bitcoin" "eth price"',
    ),
    family="experiment",
)
def experiment_start(ctx: Context, args: list[str]) -> CommandResult:
    """Validate the candidate against the current settings, then start it (audited)."""
    positional, flags = parse_flags(args, valued={"share", "channels"})
    if len(positional) < 2:
        raise UsageError("Give a name and the change, e.g. `experiment start strict answer 0.8`.")
    name, change = positional[0].lower(), parse_change(positional[1:])
    channels = parse_channels(str(flags["channels"])) if "channels" in flags else []
    default = 1.0 if channels else DEFAULT_SHARE
    share = parse_unit(str(flags["share"]), "--share") if "share" in flags else default
    settings = ctx.app.settings.snapshot()
    if change.thresholds:
        check_order({**settings.thresholds(), **change.thresholds})  # as `threshold set` does
    store = Experiments(ctx.app.engine, ctx.app.kb)
    try:
        exp, audit_id = store.start(name, change, share, channels, ctx.actor, ctx.caller.platform)
    except ExperimentError as exc:
        raise CommandError(str(exc)) from None
    return ctx.ok(
        "Experiment started",
        f"`{exp.name}`: {change.describe()} for {_target(exp)}; everyone else stays on the "
        f"baseline. A conversation keeps its arm for its whole life. Check it with "
        f"`/deskhand experiment status {exp.name}`; then `experiment promote {exp.name}` or "
        f"`experiment stop {exp.name}`. Undo: `/deskhand audit undo {audit_id}`.",
    )


def _arm_versions(ctx: Context, name: str) -> dict[str, str]:
    """The bot versions each arm answered under (several if the baseline changed meanwhile)."""
    with Session(ctx.app.engine) as session:
        rows = session.exec(
            select(Decision.arm, Decision.bot_version)
            .where(Decision.experiment == name)
            .distinct()
            .order_by(col(Decision.arm), col(Decision.bot_version))
        ).all()
    versions: dict[str, list[str]] = {}
    for arm, version in rows:
        versions.setdefault(arm, []).append(version or "?")
    return {arm: ", ".join(v) for arm, v in versions.items()}


def _row(m: MetricResult) -> list[str]:
    c = m.comparison
    base = f"{m.base_hits}/{m.base_n}" + (f" ({_pct(c.baseline)})" if c else "")
    cand = f"{m.cand_hits}/{m.cand_n}" + (f" ({_pct(c.candidate)})" if c else "")
    if c is None:
        return [m.label, base, cand, "—", "no data"]
    diff = f"{c.difference * 100:+.1f} pts [{c.low * 100:+.1f}, {c.high * 100:+.1f}]"
    verdict = m.verdict
    if m.more_conversations:
        verdict += f"; ~{m.more_conversations} more conv. for {m.detect * 100:.0f} pts"
    return [m.label, base, cand, diff, verdict]


def _verdict(status: ExperimentStatus) -> str:
    m = status.primary
    c = m.comparison
    if c is None:
        return "Not enough data yet: both arms need conversations before they can be compared."
    if status.real:
        return (
            f"The difference in {m.label.lower()} is real (p = {c.p_value:.3f}): the candidate is "
            f"{abs(c.difference) * 100:.1f} points {m.verdict} (95 % CI {c.low * 100:+.1f} to "
            f"{c.high * 100:+.1f} points)."
        )
    head = (
        f"No real difference in {m.label.lower()} yet (p = {c.p_value:.2f}, 95 % CI "
        f"{c.low * 100:+.1f} to {c.high * 100:+.1f} points): "
    )
    if not m.more_conversations:
        return head + (
            f"it already has the conversations to detect a {m.detect * 100:.0f}-point difference "
            "with 80 % power, so a real one is probably smaller (`--detect` sizes a smaller one)."
        )
    return head + (
        f"about {m.more_conversations} more conversations would detect a "
        f"{m.detect * 100:.0f}-point difference with 80 % power."
    )


@command(
    "experiment status",
    "experiment status [NAME] [--detect POINTS]",
    "Compare the arms on bot resolution, Not helpful after an answer, escalation and CSAT, with "
    "95 % intervals; says whether the difference is real, or how many more conversations it "
    "needs to detect a difference of --detect points (default 10).",
    role="staff",
    examples=("experiment status", "experiment status strict --detect 5"),
    family="experiment",
)
def experiment_status_command(ctx: Context, args: list[str]) -> CommandResult:
    """The running experiment (or the named one) compared arm against arm."""
    positional, flags = parse_flags(args, valued={"detect"})
    if len(positional) > 1:
        raise UsageError("Give at most the experiment's name.")
    args = positional
    detect = parse_int(str(flags.get("detect", "10")).rstrip("%"), "--detect", 1, 50) / 100
    store = Experiments(ctx.app.engine)
    exp = store.get(args[0].lower()) if args else store.running()
    if exp is None:
        if args:
            raise CommandError(f"There is no experiment called `{args[0]}`.")
        earlier = store.all()
        listed = ", ".join(f"`{e.name}` ({e.status})" for e in earlier[:10]) or "none yet"
        return ctx.ok(
            "No experiment running",
            f"Start one with `/deskhand experiment start NAME CHANGE`. Earlier: {listed}.",
        )
    status = experiment_status(ctx.app.engine, exp, detect=detect)
    rows = [["Metric", "Baseline", "Candidate", "Candidate − baseline [95 % CI]", "Verdict"]]
    rows += [_row(m) for m in status.metrics]
    versions = _arm_versions(ctx, exp.name)
    return ctx.ok(
        f"Experiment {exp.name} ({exp.status})",
        f"{CandidateChange.from_json(exp.change).describe()} for {_target(exp)}. {_verdict(status)} "
        "Bot resolution (resolved without a person) decides; the other rows are secondary checks.",
        table=rows,
        fields=[
            ("Conversations", f"baseline {status.baseline}, candidate {status.candidate}"),
            ("Versions", "; ".join(f"{arm} {v}" for arm, v in versions.items()) or "—"),
        ],
    )


def _changed(values: dict[str, Any]) -> str:
    """What promote wrote, e.g. `thresholds updated; scope crypto; KB articles #3, #12 published`."""
    parts = [f"{k} updated" for k in values if k not in ("scope", "kb")]
    if values.get("scope"):
        parts.append("scope " + ", ".join(str(n) for n in values["scope"]))
    if values.get("kb"):
        parts.append("KB articles " + ", ".join(f"#{a}" for a in values["kb"]) + " published")
    return "; ".join(parts) or "nothing to write"


@command(
    "experiment promote",
    "experiment promote NAME",
    "Make the candidate the baseline for everyone and end the experiment (audited, undoable).",
    examples=("experiment promote strict",),
    family="experiment",
)
def experiment_promote(ctx: Context, args: list[str]) -> CommandResult:
    """Write the candidate's settings and end the experiment in one audited step."""
    if len(args) != 1:
        raise UsageError("Give the experiment's name.")
    try:
        values, audit_id = Experiments(ctx.app.engine, ctx.app.kb).promote(
            args[0].lower(), ctx.actor, ctx.caller.platform
        )
    except ExperimentError as exc:
        raise CommandError(str(exc)) from None
    return ctx.ok(
        "Experiment promoted",
        f"`{args[0].lower()}` is now the baseline for everyone ({_changed(values)}) "
        f"from the next message. Undo: `/deskhand audit undo {audit_id}` (restores the old "
        "settings and resumes the experiment).",
    )


@command(
    "experiment stop",
    "experiment stop NAME",
    "End the experiment: every conversation goes back to the baseline (audited, undoable).",
    examples=("experiment stop strict",),
    family="experiment",
)
def experiment_stop(ctx: Context, args: list[str]) -> CommandResult:
    """End without changing the baseline."""
    if len(args) != 1:
        raise UsageError("Give the experiment's name.")
    try:
        audit_id = Experiments(ctx.app.engine).stop(args[0].lower(), ctx.actor, ctx.caller.platform)
    except ExperimentError as exc:
        raise CommandError(str(exc)) from None
    return ctx.ok(
        "Experiment stopped",
        f"`{args[0].lower()}` ended; everyone is on the baseline from the next message (its KB "
        "drafts stay unpublished candidates, its scope additions unwritten). Its "
        f"figures stay in `/deskhand experiment status {args[0].lower()}`. Undo: "
        f"`/deskhand audit undo {audit_id}` (resumes it; conversations keep their arms).",
    )
