"""The bot version: a short hash of the effective configuration, stamped on every decision."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.engine import Engine

from bot import revisions


def version_hash(parts: dict[str, Any]) -> str:
    """Eight hex characters that change whenever any part changes (key order does not matter)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:8]


def kb_revision(engine: Engine) -> str:
    """Changes on every article add, edit or removal (count, summed versions, latest edit)."""
    revs = revisions.read(engine)
    latest = revs.articles_updated
    return f"{revs.articles}.{revs.article_versions}.{latest.isoformat() if latest else '-'}"


def scope_revision(engine: Engine) -> str:
    """Changes whenever an issue type is added, edited or removed."""
    revs = revisions.read(engine)
    latest = revs.issue_types_updated
    return f"{revs.issue_types}.{latest.isoformat() if latest else '-'}"


class BotVersion:
    """Computes the version of the configuration one message is answered under."""

    def __init__(self, engine: Engine, model: str) -> None:
        self.engine = engine
        self.model = model

    def parts(self, settings: Any, channel_id: str = "") -> dict[str, Any]:
        """What the version covers: KB revision, scope, thresholds, persona and model."""
        return {
            "kb": kb_revision(self.engine),
            "scope": scope_revision(self.engine),
            "thresholds": dict(settings.thresholds(channel_id)),
            "persona": settings.persona(),
            "model": self.model,
        }

    def stamp(self, settings: Any, channel_id: str = "") -> str:
        """The short hash recorded on the decision."""
        return version_hash(self.parts(settings, channel_id))
