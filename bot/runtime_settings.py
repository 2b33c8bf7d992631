"""Settings admins change from chat, stored in the database and read fresh on every message."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.audit import record_audit
from bot.models import Setting
from bot.privacy.redact import DEFAULT_POLICY
from graph.state import DEFAULT_THRESHOLDS, Thresholds
from knowledge.models import utcnow

DEFAULTS: dict[str, Any] = {
    # once stored, admin values win over the self-calibrated ones (domain_margin is not an admin knob)
    "thresholds": {k: v for k, v in DEFAULT_THRESHOLDS.items() if k != "domain_margin"},
    "calibration": {},  # what self-calibration picked at import (bot.self_calibration)
    "calibration_failure": {},  # the last failed background calibration: at, error
    "channel_thresholds": {},  # channel_id -> partial thresholds
    "persona": {"tone": "friendly", "length": "medium", "signoff": "", "name": "Deskhand"},
    "channels": {},  # "platform:channel_id" -> {enabled, mode: mention-only|all, shadow}
    "routes": {},  # issue_type or team -> {"slack": channel, "discord": channel}
    "vip_users": [],  # "platform:user_id"
    "repeat_window_days": 7,
    "business_hours": {},  # see bot/monitoring/hours.py: enabled, timezone, days, start, end
    "llm_prices": {},  # model (or "*") -> [price per 1k prompt tokens, per 1k completion tokens]
    "member_tiers": {},  # tier name -> role names/ids (segments in stats)
    "digest": {},  # weekly review: enabled, day, time, timezone, channels (bot/monitoring/digest.py)
    "privacy": dict(DEFAULT_POLICY),  # kind -> drop | mask | keep (see bot/privacy)
    "rate_limits": {},  # member_per_minute (6), channel_per_minute (0 = off), cooldown_s (60)
    "blocked_members": {},  # "platform:user_id" -> ISO end time, or "" for indefinitely
    "allowed_domains": [],  # links/addresses in articles outside these are flagged (empty: off)
    "retention_days": 0,  # conversations untouched this long are erased daily; 0 keeps them
}


class SettingsStore:
    """JSON values by key with defaults; every change is audited with before and after."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, key: str) -> Any:
        """The stored value, or the default (a fresh copy)."""
        with Session(self.engine) as session:
            row = session.get(Setting, key)
        return _decode(key, row.value if row is not None else None)

    def record(self, key: str, value: Any) -> None:
        """Store a value the bot worked out itself (not an admin change, so not audited)."""
        with Session(self.engine) as session:
            row = session.get(Setting, key) or Setting(key=key, value="null")
            row.value = json.dumps(value)
            row.updated_at = utcnow()
            session.add(row)
            session.commit()

    def stored(self, key: str) -> Any:
        """The stored value, or None when nothing was ever stored (unlike get, no default)."""
        with Session(self.engine) as session:
            row = session.get(Setting, key)
        return json.loads(row.value) if row is not None else None

    def snapshot(self) -> SettingsStore:
        """Every setting in one read: a consistent view for one message (one query, not six)."""
        with self.engine.connect() as conn:  # Core: no ORM session or objects for a small read
            values = {key: value for key, value in conn.execute(_ALL_SETTINGS)}
        return _SettingsSnapshot(self.engine, values)

    def overlaid(self, values: dict[str, Any]) -> SettingsStore:
        """A snapshot that reads `values` in place of the stored ones (an experiment's candidate)."""
        snapshot = self if isinstance(self, _SettingsSnapshot) else self.snapshot()
        assert isinstance(snapshot, _SettingsSnapshot)
        merged = {**snapshot._values, **{k: json.dumps(v) for k, v in values.items()}}
        return _SettingsSnapshot(self.engine, merged)

    def set(self, key: str, value: Any, actor: str = "system", platform: str = "") -> Any:
        """Store a value and audit the change; returns the previous value."""
        before = self.get(key)
        with Session(self.engine) as session:
            row = session.get(Setting, key) or Setting(key=key, value="null")
            row.value = json.dumps(value)
            row.updated_at = utcnow()
            session.add(row)
            record_audit(session, actor, f"set {key}", key, before, value, platform)
            session.commit()
        return before

    def thresholds(self, channel_id: str = "") -> Thresholds:
        """Product defaults, then self-calibrated values, then admin overrides (global, channel)."""
        calibrated = self.get("calibration") or {}
        picked = {k: calibrated[k] for k in ("answer", "domain_margin") if k in calibrated}
        merged = {**DEFAULT_THRESHOLDS, **picked, **(self.stored("thresholds") or {})}
        if channel_id:
            merged.update(self.get("channel_thresholds").get(channel_id, {}))
        merged["clarify"] = min(merged["clarify"], merged["answer"])
        return merged  # type: ignore[return-value]

    def persona(self) -> dict[str, Any]:
        """Tone, length, sign-off and name."""
        return {**DEFAULTS["persona"], **self.get("persona")}

    def channel(self, platform: str, channel_id: str) -> dict[str, Any]:
        """Per-channel config: enabled (help channel), mode, shadow."""
        default = {"enabled": False, "mode": "mention-only", "shadow": False}
        return {**default, **self.get("channels").get(f"{platform}:{channel_id}", {})}

    def update_channel(self, platform: str, channel_id: str, actor: str, **changes: Any) -> dict:
        """Change one channel's config and audit it."""
        channels = self.get("channels")
        key = f"{platform}:{channel_id}"
        channels[key] = {**self.channel(platform, channel_id), **changes}
        self.set("channels", channels, actor=actor, platform=platform)
        return channels[key]

    def route_for(self, platform: str, issue_type: str, team: str) -> str:
        """The staff channel for an issue type (or its team) on a platform, '' for the default."""
        routes = self.get("routes")
        for key in (issue_type, team):
            if key and platform in routes.get(key, {}):
                return routes[key][platform]
        return ""

    def is_vip(self, platform: str, user_id: str) -> bool:
        """VIP members always reach a person."""
        return f"{platform}:{user_id}" in self.get("vip_users")


_ALL_SETTINGS = sa_select(col(Setting.key), col(Setting.value))


class _SettingsSnapshot(SettingsStore):
    """Reads answered from one earlier query; writes still go to the database."""

    def __init__(self, engine: Engine, values: dict[str, str]) -> None:
        super().__init__(engine)
        self._values = values

    def get(self, key: str) -> Any:
        """The value as it was when the snapshot was taken."""
        return _decode(key, self._values.get(key))

    def stored(self, key: str) -> Any:
        """The stored value as it was when the snapshot was taken, None if there was none."""
        raw = self._values.get(key)
        return json.loads(raw) if raw is not None else None


def _decode(key: str, raw: str | None) -> Any:
    """A stored JSON value, or a fresh copy of the default when nothing is stored."""
    if raw is None:
        return json.loads(json.dumps(DEFAULTS.get(key)))
    return json.loads(raw)
