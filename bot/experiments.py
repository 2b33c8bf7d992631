"""Staged rollout: a candidate change (thresholds, persona) served to part of the traffic.

One experiment runs at a time. A conversation started while it runs, in an eligible channel, is
assigned once by a stable hash of its key and the experiment name (bot.improve.experiment.assign),
so every turn of it lands in the same arm. The candidate arm answers under the settings that
`promote` would store, so its bot version is the version the baseline gets after promotion.
Start, promote and stop are audited in one transaction with their effect, and `audit undo` reverses
them (undo_experiment).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.audit import record_audit
from bot.improve.experiment import assign
from bot.models import AuditEntry, Conversation, Experiment, Setting
from bot.runtime_settings import SettingsStore
from knowledge.models import as_utc, utcnow

Arm = Literal["baseline", "candidate"]
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
THRESHOLD_KNOBS = ("answer", "clarify", "margin")
PERSONA_FIELDS = ("tone", "length", "signoff", "name")


class ExperimentError(ValueError):
    """An experiment command that cannot be done; the message is shown to the admin."""


@dataclass(frozen=True)
class CandidateChange:
    """What the candidate arm changes: threshold knobs and persona fields (the rest is baseline)."""

    thresholds: dict[str, float] = field(default_factory=dict)
    persona: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        """Stored on the experiment row."""
        return json.dumps({"thresholds": self.thresholds, "persona": self.persona}, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> CandidateChange:
        """Read back from the experiment row."""
        data = json.loads(raw or "{}")
        return cls(
            {str(k): float(v) for k, v in (data.get("thresholds") or {}).items()},
            {str(k): str(v) for k, v in (data.get("persona") or {}).items()},
        )

    def describe(self) -> str:
        """e.g. `answer 0.80, clarify 0.50; persona tone formal`."""
        parts = []
        if self.thresholds:
            parts.append(", ".join(f"{k} {v:.2f}" for k, v in self.thresholds.items()))
        if self.persona:
            parts.append("persona " + ", ".join(f"{k} {v!r}" for k, v in self.persona.items()))
        return "; ".join(parts) or "no change (A/A)"


@dataclass(frozen=True)
class Assignment:
    """Which experiment a conversation is in, and in which arm."""

    experiment: str
    arm: Arm


def candidate_values(settings: SettingsStore, change: CandidateChange) -> dict[str, Any]:
    """The setting values the candidate runs under, which are exactly what promote stores."""
    values: dict[str, Any] = {}
    if change.thresholds:
        current = settings.stored("thresholds")
        if current is None:  # as `threshold set`: keep the self-calibrated answer unless changed
            current = {k: v for k, v in settings.get("thresholds").items() if k != "answer"}
        values["thresholds"] = {**current, **change.thresholds}
    if change.persona:
        values["persona"] = {**(settings.get("persona") or {}), **change.persona}
    return values


def _channels(exp: Experiment) -> list[str]:
    return [str(c) for c in json.loads(exp.channels or "[]")]


def describe_experiment(exp: Experiment) -> dict[str, Any]:
    """The experiment as audit/status data."""
    return {
        "name": exp.name,
        "status": exp.status,
        "change": json.loads(exp.change or "{}"),
        "share": exp.share,
        "channels": _channels(exp),
        "started_at": exp.started_at.isoformat(timespec="seconds"),
    }


class Experiments:
    """Reads and changes experiments; the service asks it which arm a conversation is in."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---- reading -------------------------------------------------------------------------------
    def running(self) -> Experiment | None:
        """The running experiment, if any."""
        with Session(self.engine) as session:
            return session.exec(select(Experiment).where(Experiment.status == "running")).first()

    def get(self, name: str) -> Experiment | None:
        """An experiment by name."""
        with Session(self.engine) as session:
            return session.exec(select(Experiment).where(Experiment.name == name)).first()

    def all(self) -> list[Experiment]:
        """Every experiment, newest first."""
        with Session(self.engine) as session:
            return list(session.exec(select(Experiment).order_by(col(Experiment.id).desc())))

    def assignment(self, conv: Conversation) -> Assignment | None:
        """The arm of a conversation in the running experiment (None: not enrolled)."""
        exp = self.running()
        if exp is None or as_utc(conv.created_at) < as_utc(exp.started_at):
            return None  # conversations already under way finish on the baseline, unrecorded
        channels = _channels(exp)
        if channels and conv.channel_id not in channels:
            return None
        arm: Arm = (
            "candidate" if assign(conv.key, exp.name, exp.share) == "candidate" else "baseline"
        )
        return Assignment(exp.name, arm)

    def settings_for(self, settings: SettingsStore, assignment: Assignment | None) -> SettingsStore:
        """The settings one turn runs under: the baseline's, or the candidate's overlaid on them."""
        if assignment is None or assignment.arm != "candidate":
            return settings
        exp = self.get(assignment.experiment)
        if exp is None:
            return settings
        return settings.overlaid(candidate_values(settings, CandidateChange.from_json(exp.change)))

    # ---- changing ------------------------------------------------------------------------------
    def start(
        self,
        name: str,
        change: CandidateChange,
        share: float,
        channels: list[str],
        actor: str,
        platform: str = "",
    ) -> tuple[Experiment, int]:
        """Start serving the candidate (audited); returns the experiment and the audit id."""
        if not NAME.match(name):
            raise ExperimentError(
                f"`{name}` is not a usable name: lowercase letters, digits, - and _ (max 40)."
            )
        if not 0.0 < share <= 1.0:
            raise ExperimentError("The share must be above 0 % and at most 100 %.")
        running = self.running()
        if running is not None:
            raise ExperimentError(
                f"Experiment `{running.name}` is running; promote or stop it first "
                "(one experiment at a time keeps the arms comparable)."
            )
        if self.get(name) is not None:
            raise ExperimentError(f"An experiment called `{name}` already exists; pick a new name.")
        exp = Experiment(
            name=name,
            change=change.to_json(),
            share=share,
            channels=json.dumps(channels),
            started_by=actor,
        )
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(exp)
            session.flush()
            entry = record_audit(
                session, actor, "experiment start", name, None, describe_experiment(exp), platform
            )
            session.commit()
            return exp, entry.id or 0

    def promote(self, name: str, actor: str, platform: str = "") -> tuple[dict[str, Any], int]:
        """Make the candidate the baseline for everyone (audited); (settings written, audit id)."""
        with Session(self.engine, expire_on_commit=False) as session:
            exp = self._running_named(session, name)
            settings = SettingsStore(self.engine).snapshot()
            values = candidate_values(settings, CandidateChange.from_json(exp.change))
            before = {key: settings.stored(key) for key in values}
            _write_settings(session, values)
            exp.status, exp.ended_by, exp.ended_at = "promoted", actor, utcnow()
            session.add(exp)
            entry = record_audit(
                session,
                actor,
                "experiment promote",
                name,
                {"status": "running", "settings": before},
                {"status": "promoted", "settings": values},
                platform,
            )
            session.commit()
            return values, entry.id or 0

    def stop(self, name: str, actor: str, platform: str = "") -> int:
        """Everyone back on the baseline; the candidate is not applied (audited); the audit id."""
        with Session(self.engine) as session:
            exp = self._running_named(session, name)
            exp.status, exp.ended_by, exp.ended_at = "stopped", actor, utcnow()
            session.add(exp)
            entry = record_audit(
                session,
                actor,
                "experiment stop",
                name,
                {"status": "running"},
                {"status": "stopped"},
                platform,
            )
            session.commit()
            return entry.id or 0

    def undo(self, entry: AuditEntry, force: bool = False) -> str:
        """Reverse an audited start, promote or stop; the summary shown to the admin."""
        with Session(self.engine) as session:
            exp = session.exec(select(Experiment).where(Experiment.name == entry.target)).first()
            if exp is None:
                raise ExperimentError(f"Experiment `{entry.target}` no longer exists.")
            if entry.action == "experiment start":
                if exp.status != "running":
                    raise ExperimentError(f"`{exp.name}` is already {exp.status}.")
                exp.status, exp.ended_at = "stopped", utcnow()
                session.add(exp)
                session.commit()
                return f"stopped experiment {exp.name}"
            if exp.status == "running":
                raise ExperimentError(f"`{exp.name}` is running already.")
            others = session.exec(
                select(Experiment.name).where(
                    Experiment.status == "running", Experiment.name != exp.name
                )
            ).first()
            if others:
                raise ExperimentError(f"Experiment `{others}` is running; stop it first.")
            summary = f"experiment {exp.name} is running again"
            if entry.action == "experiment promote":
                before = json.loads(entry.before or "{}").get("settings") or {}
                after = json.loads(entry.after or "{}").get("settings") or {}
                snapshot = SettingsStore(self.engine).snapshot()
                changed = [k for k, v in after.items() if snapshot.stored(k) != v]
                if changed and not force:
                    raise ExperimentError(
                        f"{', '.join(changed)} changed since the promotion; undo later changes "
                        "first, or add --force."
                    )
                _write_settings(session, before)
                summary = f"{', '.join(before)} restored; {summary}"
            exp.status, exp.ended_by, exp.ended_at = "running", "", None
            session.add(exp)
            session.commit()
            return summary

    def _running_named(self, session: Session, name: str) -> Experiment:
        exp = session.exec(select(Experiment).where(Experiment.name == name)).first()
        if exp is None:
            raise ExperimentError(f"There is no experiment called `{name}`.")
        if exp.status != "running":
            raise ExperimentError(f"`{name}` is {exp.status}, not running.")
        return exp


def _write_settings(session: Session, values: dict[str, Any]) -> None:
    """Store setting values inside the caller's transaction (None removes the stored value)."""
    for key, value in values.items():
        row = session.get(Setting, key)
        if value is None:
            if row is not None:
                session.delete(row)
            continue
        row = row or Setting(key=key, value="null")
        row.value, row.updated_at = json.dumps(value), utcnow()
        session.add(row)
