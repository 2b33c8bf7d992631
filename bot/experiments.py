"""Staged rollout: a candidate change (thresholds, persona, scope, KB drafts) on part of the traffic.

One experiment runs at a time. A conversation started while it runs, in an eligible channel, is
assigned once by a stable hash of its key and the experiment name (bot.improve.experiment.assign),
so every turn of it lands in the same arm. The candidate arm answers under the settings that
`promote` would store, so its bot version is the version the baseline gets after promotion.
Start, promote and stop are audited in one transaction with their effect, and `audit undo` reverses
them (undo_experiment). KB drafts are pending KB candidates (from `gaps draft`, `kb draft`): the
candidate arm retrieves them (bot/candidate_parts.py), promote publishes them, stop leaves them
unpublished; scope additions train the candidate arm's classifier and are written on promote.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.audit import record_audit
from bot.improve.experiment import assign
from bot.models import AuditEntry, Conversation, Experiment, IssueType, Setting
from bot.runtime_settings import SettingsStore
from knowledge.models import KbCandidate, as_utc, utcnow

if TYPE_CHECKING:  # the knowledge base is only needed to publish drafts
    from knowledge.store import KnowledgeBase

Arm = Literal["baseline", "candidate"]
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
THRESHOLD_KNOBS = ("answer", "clarify", "margin")
PERSONA_FIELDS = ("tone", "length", "signoff", "name")


class ExperimentError(ValueError):
    """An experiment command that cannot be done; the message is shown to the admin."""


@dataclass(frozen=True)
class ScopeAddition:
    """An issue type the candidate adds, or example phrasings it adds to one, in or out of scope."""

    name: str
    in_scope: bool
    examples: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Stored with the change."""
        return {"in_scope": self.in_scope, "examples": list(self.examples)}


@dataclass(frozen=True)
class CandidateChange:
    """What the candidate arm changes: thresholds, persona, scope additions, KB drafts."""

    thresholds: dict[str, float] = field(default_factory=dict)
    persona: dict[str, str] = field(default_factory=dict)
    scope: tuple[ScopeAddition, ...] = ()
    kb_drafts: tuple[int, ...] = ()  # pending KB candidate ids served only to the candidate arm

    def to_json(self) -> str:
        """Stored on the experiment row."""
        data: dict[str, Any] = {"thresholds": self.thresholds, "persona": self.persona}
        if self.scope:
            data["scope"] = {a.name: a.to_dict() for a in self.scope}
        if self.kb_drafts:
            data["kb_drafts"] = list(self.kb_drafts)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> CandidateChange:
        """Read back from the experiment row."""
        data = json.loads(raw or "{}")
        return cls(
            {str(k): float(v) for k, v in (data.get("thresholds") or {}).items()},
            {str(k): str(v) for k, v in (data.get("persona") or {}).items()},
            tuple(
                ScopeAddition(
                    str(name), bool(v.get("in_scope", True)), tuple(v.get("examples") or ())
                )
                for name, v in (data.get("scope") or {}).items()
            ),
            tuple(int(d) for d in data.get("kb_drafts") or ()),
        )

    def describe(self) -> str:
        """e.g. `answer 0.80, clarify 0.50; persona tone formal; KB drafts #4, #5`."""
        parts = []
        if self.thresholds:
            parts.append(", ".join(f"{k} {v:.2f}" for k, v in self.thresholds.items()))
        if self.persona:
            parts.append("persona " + ", ".join(f"{k} {v!r}" for k, v in self.persona.items()))
        if self.scope:
            parts.append(
                "scope "
                + ", ".join(
                    f"{a.name} {'in' if a.in_scope else 'out'} (+{len(a.examples)} phrasings)"
                    for a in self.scope
                )
            )
        if self.kb_drafts:
            parts.append("KB drafts " + ", ".join(f"#{d}" for d in self.kb_drafts))
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


def candidate_scope(engine: Engine, change: CandidateChange) -> dict[str, IssueType]:
    """The issue types the candidate adds or changes, as promote would write them (by name)."""
    rows: dict[str, IssueType] = {}
    with Session(engine) as session:
        for addition in change.scope:
            old = session.get(IssueType, addition.name)
            examples = json.loads(old.examples) if old else []
            examples += [e for e in addition.examples if e not in examples]
            rows[addition.name] = IssueType(
                name=addition.name,
                description=old.description if old else "",
                examples=json.dumps(examples),
                resolution=old.resolution if old else "",
                handoff=old.handoff if old else False,
                in_scope=addition.in_scope,
                escalate=old.escalate if old else False,
                team=(old.team if old else "") or ("support" if addition.in_scope else ""),
                topics=old.topics if old else "",
            )
    return rows


def pending_drafts(engine: Engine, ids: tuple[int, ...]) -> list[KbCandidate]:
    """The KB drafts of a change that are still unpublished (approved or rejected ones drop out)."""
    return _drafts(engine, ids, "pending")


def published_drafts(engine: Engine, ids: tuple[int, ...]) -> list[KbCandidate]:
    """The KB drafts of a change already approved: what an interrupted promote had published."""
    return _drafts(engine, ids, "approved")


def _drafts(engine: Engine, ids: tuple[int, ...], status: str) -> list[KbCandidate]:
    if not ids:
        return []
    with Session(engine) as session:
        rows = session.exec(
            select(KbCandidate)
            .where(col(KbCandidate.id).in_(ids), KbCandidate.status == status)
            .order_by(col(KbCandidate.id))
        )
        return list(rows)


def check_change(engine: Engine, change: CandidateChange) -> None:
    """Refuse drafts that are not pending and scope additions a classifier cannot learn from."""
    pending = {c.id for c in pending_drafts(engine, change.kb_drafts)}
    missing = [d for d in change.kb_drafts if d not in pending]
    if missing:
        raise ExperimentError(
            f"KB draft(s) {', '.join(f'#{d}' for d in missing)} are not pending candidates "
            "(see `/deskhand kb candidates`)."
        )
    for name, row in candidate_scope(engine, change).items():
        if len(json.loads(row.examples)) < 2:
            raise ExperimentError(f"Scope `{name}` needs at least two example phrasings.")


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

    def __init__(self, engine: Engine, kb: KnowledgeBase | None = None) -> None:
        self.engine = engine
        self.kb = kb  # publishes and withdraws KB drafts on promote and its undo

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
        check_change(self.engine, change)
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
        """Make the candidate the baseline for everyone (audited); (what changed, audit id).

        KB drafts are published first (each through the knowledge base, which indexes it); the
        settings, scope, status and audit entry are then written in one transaction. A promote
        cut short between the two is finished by running it again: the drafts it had already
        published are recorded with the rest, so undoing the promote withdraws them all.
        """
        with Session(self.engine) as session:
            change = CandidateChange.from_json(self._running_named(session, name).change)
        drafts = pending_drafts(self.engine, change.kb_drafts)
        earlier = published_drafts(self.engine, change.kb_drafts)
        if (drafts or earlier) and self.kb is None:
            raise ExperimentError("Publishing KB drafts needs the knowledge base.")
        published = []
        for done in earlier:
            assert self.kb is not None and done.id is not None and done.article_id is not None
            art = self.kb.get(done.article_id)
            published.append({"candidate": done.id, "article": art.id, "version": art.version})
        for draft in drafts:
            assert self.kb is not None and draft.id is not None
            art = self.kb.approve_candidate(draft.id, actor)
            published.append({"candidate": draft.id, "article": art.id, "version": art.version})
        with Session(self.engine, expire_on_commit=False) as session:
            exp = self._running_named(session, name)
            settings = SettingsStore(self.engine).snapshot()
            values = candidate_values(settings, change)
            before = {key: settings.stored(key) for key in values}
            scope_rows = candidate_scope(self.engine, change)
            scope_before = {}
            for scope_name, row in scope_rows.items():
                old = session.get(IssueType, scope_name)
                scope_before[scope_name] = old.model_dump(mode="json") if old else None
                row.updated_at = utcnow()
                session.merge(row)
            _write_settings(session, values)
            exp.status, exp.ended_by, exp.ended_at = "promoted", actor, utcnow()
            session.add(exp)
            entry = record_audit(
                session,
                actor,
                "experiment promote",
                name,
                {"status": "running", "settings": before, "scope": scope_before},
                {
                    "status": "promoted",
                    "settings": values,
                    "scope": sorted(scope_rows),
                    "published": published,
                },
                platform,
            )
            session.commit()
        changed = dict(values)
        if scope_rows:
            changed["scope"] = sorted(scope_rows)
        if published:
            changed["kb"] = [p["article"] for p in published]
        return changed, entry.id or 0

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
                summary = self._unpromote(session, entry, force, summary)
            exp.status, exp.ended_by, exp.ended_at = "running", "", None
            session.add(exp)
            session.commit()
            return summary

    def _unpromote(self, session: Session, entry: AuditEntry, force: bool, summary: str) -> str:
        """Restore settings and scope in the caller's transaction; unpublish the drafts first."""
        before_all, after_all = json.loads(entry.before or "{}"), json.loads(entry.after or "{}")
        before = before_all.get("settings") or {}
        after = after_all.get("settings") or {}
        snapshot = SettingsStore(self.engine).snapshot()
        changed = [k for k, v in after.items() if snapshot.stored(k) != v]
        if changed and not force:
            raise ExperimentError(
                f"{', '.join(changed)} changed since the promotion; undo later changes "
                "first, or add --force."
            )
        published = after_all.get("published") or []
        if published and self.kb is None:
            raise ExperimentError("Withdrawing KB drafts needs the knowledge base.")
        for item in published:  # back to unpublished drafts (before this session writes)
            assert self.kb is not None
            self.kb.withdraw_candidate(int(item["candidate"]), entry.actor, item.get("version"))
        restored = list(before)
        _write_settings(session, before)
        scope_before = before_all.get("scope") or {}
        for scope_name, row in scope_before.items():
            current = session.get(IssueType, scope_name)
            if row is None:
                if current is not None:
                    session.delete(current)
                continue
            row["updated_at"] = utcnow()
            restored_row = IssueType.model_validate(row)
            restored_row.updated_at = utcnow()
            session.merge(restored_row)
        if scope_before:
            restored.append("scope")
        if published:
            restored.append(f"{len(published)} KB draft(s) unpublished")
        return f"{', '.join(restored)} restored; {summary}"

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
