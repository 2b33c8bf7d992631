"""Scope: the issue types the bot handles (and refuses), loaded from a file into the database."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.audit import record_audit
from bot.models import IssueType
from graph.deps import ScopeEntry
from knowledge.models import utcnow


class ScopeError(ValueError):
    """A scope file or change that cannot be applied, with a message that says where."""


@dataclass
class ScopeImport:
    """What a scope import changed."""

    in_scope: int
    out_of_scope: int


def parse_scope_file(path: Path) -> list[IssueType]:
    """Validate a scope YAML/JSON file completely before anything is written."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ScopeError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ScopeError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict) or not ({"issue_types", "out_of_scope"} & data.keys()):
        raise ScopeError(f"{path}: expected top-level keys 'issue_types' and/or 'out_of_scope'")
    rows: list[IssueType] = []
    seen: set[str] = set()
    for section, in_scope in (("issue_types", True), ("out_of_scope", False)):
        for index, item in enumerate(data.get(section) or [], 1):
            where = f"{path}: {section}[{index}]"
            if not isinstance(item, dict) or not str(item.get("name", "")).strip():
                raise ScopeError(f"{where}: each entry needs a 'name'")
            name = str(item["name"]).strip()
            if name in seen:
                raise ScopeError(f"{where}: duplicate name {name!r}")
            seen.add(name)
            examples = item.get("examples") or []
            if not isinstance(examples, list) or not all(
                isinstance(e, str) and e.strip() for e in examples
            ):
                raise ScopeError(f"{where} ({name}): 'examples' must be a list of phrasings")
            if len(examples) < 2:
                raise ScopeError(f"{where} ({name}): give at least 2 example phrasings")
            rows.append(
                IssueType(
                    name=name,
                    description=str(item.get("description", "")),
                    examples=json.dumps([e.strip() for e in examples]),
                    resolution=str(item.get("resolution", "")),
                    handoff=bool(item.get("handoff", False)),
                    in_scope=in_scope,
                    escalate=bool(item.get("escalate", False)) and not in_scope,
                    team=str(item.get("team", "support" if in_scope else "")),
                    topics=",".join(item.get("topics") or []),
                )
            )
    return rows


class ScopeStore:
    """Reads and changes the scope in SQL; the classifier retrains when its fingerprint changes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def all(self) -> list[IssueType]:
        """Every issue type, in scope first."""
        with Session(self.engine) as session:
            rows = list(session.exec(select(IssueType)))
        return sorted(rows, key=lambda r: (not r.in_scope, r.name))

    def import_file(self, path: Path, actor: str = "cli", replace: bool = True) -> ScopeImport:
        """Load a scope file; with replace, types missing from the file are removed."""
        rows = parse_scope_file(Path(path))
        with Session(self.engine) as session:
            before = [r.name for r in session.exec(select(IssueType))]
            if replace:
                for old in session.exec(select(IssueType)):
                    session.delete(old)
                session.flush()
            for row in rows:
                session.merge(row)
            record_audit(session, actor, "scope import", str(path), before, [r.name for r in rows])
            session.commit()
        return ScopeImport(sum(r.in_scope for r in rows), sum(not r.in_scope for r in rows))

    def upsert(self, row: IssueType, actor: str, platform: str = "") -> IssueType:
        """Add or replace one issue type (audited)."""
        with Session(self.engine) as session:
            old = session.get(IssueType, row.name)
            before = old.model_dump(mode="json") if old else None
            row.updated_at = utcnow()
            merged = session.merge(row)
            record_audit(
                session,
                actor,
                "scope add",
                row.name,
                before,
                merged.model_dump(mode="json"),
                platform,
            )
            session.commit()
            session.refresh(merged)
            return merged

    def remove(self, name: str, actor: str, platform: str = "") -> IssueType:
        """Remove one issue type (audited); the removed row is returned for undo."""
        with Session(self.engine) as session:
            row = session.get(IssueType, name)
            if row is None:
                raise ScopeError(f"There is no issue type {name!r}.")
            record_audit(
                session, actor, "scope remove", name, row.model_dump(mode="json"), None, platform
            )
            session.delete(row)
            session.commit()
            return row

    def entries(self) -> dict[str, ScopeEntry]:
        """Scope as the graph sees it."""
        return {
            r.name: ScopeEntry(
                r.name, r.in_scope, r.handoff, r.team or "support", r.resolution, r.escalate
            )
            for r in self.all()
        }

    def training_examples(self) -> tuple[list[tuple[str, str]], set[str]]:
        """(text, label) pairs for the classifier, and the labels that are out of scope."""
        pairs: list[tuple[str, str]] = []
        out: set[str] = set()
        for row in self.all():
            pairs += [(text, row.name) for text in json.loads(row.examples)]
            if not row.in_scope:
                out.add(row.name)
        return pairs, out

    def fingerprint(self) -> str:
        """Changes whenever anything the classifier learns from changes."""
        pairs, out = self.training_examples()
        blob = json.dumps([sorted(pairs), sorted(out)]).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def describe(row: IssueType) -> dict[str, Any]:
    """An issue type as plain data for listings."""
    return {
        "name": row.name,
        "in_scope": row.in_scope,
        "handoff": row.handoff,
        "escalate": row.escalate,
        "team": row.team,
        "description": row.description,
        "resolution": row.resolution,
        "examples": json.loads(row.examples),
    }
