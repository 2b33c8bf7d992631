"""Escalation notes: an LLM handoff summary and sentiment card from one call, heuristic on failure."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from bot.llm.prompts import handoff_messages
from bot.llm.recorder import LlmRecorder, MalformedOutput, describe
from graph.interfaces import Summariser

log = logging.getLogger(__name__)
RISKS = ("low", "medium", "high")
EMOTION_BY_MOOD = {
    "frustrated": "frustration",
    "urgent": "anxiety",
    "confused": "confusion",
    "satisfied": "satisfaction",
    "neutral": "neutral",
}
SEVERITY_BASE = {"low": 2, "normal": 3, "high": 6, "urgent": 9}
STRATEGY_BY_MOOD = {
    "frustrated": "Acknowledge the frustration, apologise once, and give a concrete fix or timeline.",
    "urgent": "Reply quickly with the first action to take, then follow up with details.",
    "confused": "Walk them through it step by step and confirm each step worked.",
    "satisfied": "Keep it short and friendly; confirm the remaining question is covered.",
    "neutral": "Answer the question directly and confirm it solved the problem.",
}
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def parse_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in the text, tolerating code fences and chatter around it."""
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else text
    start = candidate.find("{")
    if start < 0:
        raise MalformedOutput("no JSON object")
    try:
        value, _ = json.JSONDecoder().raw_decode(candidate[start:])
    except json.JSONDecodeError as exc:
        raise MalformedOutput(f"bad JSON: {exc.msg}") from exc
    if not isinstance(value, dict):
        raise MalformedOutput("JSON is not an object")
    return value


def card_from_llm(data: dict[str, Any], summary: str = "") -> dict[str, Any]:
    """Normalise the model's card: required fields present, types and ranges enforced."""
    missing = [
        k for k in ("primary_emotion", "severity_1_10", "relationship_risk") if k not in data
    ]
    if missing:
        raise MalformedOutput(f"missing {missing}")
    try:
        severity = max(1, min(10, round(float(data["severity_1_10"]))))
    except (TypeError, ValueError) as exc:
        raise MalformedOutput("severity is not a number") from exc
    risk = str(data["relationship_risk"]).strip().lower()
    if risk not in RISKS:
        raise MalformedOutput(f"relationship_risk {risk!r}")
    concerns = data.get("key_concerns") or []
    if isinstance(concerns, str):
        concerns = [concerns]
    return {
        "primary_emotion": str(data["primary_emotion"]).strip()[:40] or "neutral",
        "severity_1_10": severity,
        "key_concerns": [str(c).strip()[:160] for c in concerns if str(c).strip()][:5],
        "relationship_risk": risk,
        "recommended_strategy": str(data.get("recommended_strategy", "")).strip()[:400],
        "summary": (summary or str(data.get("summary", ""))).strip()[:1200],
        "source": "llm",
    }


def heuristic_card(record: dict[str, Any], error: str = "") -> dict[str, Any]:
    """A card from the graph's own signals (mood, severity, reasons), when the model can't give one."""
    signals = record.get("signals") or {}
    mood = str(signals.get("mood") or record.get("sentiment") or "neutral")
    reasons = [str(r) for r in record.get("reasons") or []]
    severity = SEVERITY_BASE.get(str(record.get("severity", "normal")), 3)
    if float(signals.get("sentiment") or 0.0) < -0.3:
        severity += 1
    if str((record.get("member") or {}).get("tier", "")).lower() in {"vip", "enterprise"}:
        severity += 1
    severity = max(1, min(10, severity))
    if severity >= 8 or {"repeat_contact", "legal", "regulatory"} & set(reasons):
        risk = "high"
    elif severity >= 5 or mood == "frustrated":
        risk = "medium"
    else:
        risk = "low"
    concerns = []
    if record.get("question"):
        concerns.append(str(record["question"])[:160])
    concerns += [r.replace("_", " ") for r in [*signals.get("triggers", []), *reasons]][:4]
    card = {
        "primary_emotion": EMOTION_BY_MOOD.get(mood, mood),
        "severity_1_10": severity,
        "key_concerns": list(dict.fromkeys(concerns))[:5],
        "relationship_risk": risk,
        "recommended_strategy": STRATEGY_BY_MOOD.get(mood, STRATEGY_BY_MOOD["neutral"]),
        "summary": str(record.get("summary", ""))[:1200],
        "source": "heuristic",
    }
    if error:
        card["error"] = error[:300]
    return card


def transcript_key(transcript: Sequence[dict[str, Any]]) -> str:
    """Identify one escalation's transcript, so the summary call's card can be reused."""
    flat = json.dumps([[t.get("role"), t.get("text")] for t in transcript], default=str)
    return hashlib.sha1(flat.encode()).hexdigest()


class HandoffNotes:
    """One model call per escalation: the summariser asks for summary + card, the analyst reuses it."""

    def __init__(self, model: Any, recorder: LlmRecorder, limit: int = 128) -> None:
        self.model = model
        self.recorder = recorder
        self.limit = limit
        self._cards: OrderedDict[str, dict[str, Any] | str] = OrderedDict()
        self._lock = threading.Lock()

    def ask(
        self,
        transcript: Sequence[dict[str, Any]],
        issue_type: str,
        reasons: Sequence[str],
        signals: dict[str, Any],
        purpose: str,
    ) -> dict[str, Any]:
        """Call the model and parse its JSON; remember the outcome (card or error) for the analyst."""
        key = transcript_key(transcript)
        messages = handoff_messages(transcript, issue_type, reasons, signals)
        try:
            result = self.recorder.invoke(self.model, messages, purpose)
        except Exception as exc:
            self._remember(key, describe(exc))
            raise
        try:
            data = parse_json_object(result.text)
            summary = str(data.get("summary", "")).strip()
            card = card_from_llm(data, summary)
        except MalformedOutput as exc:
            self.recorder.mark(result.call_id, ok=False, error=describe(exc))
            self._remember(key, describe(exc))
            raise
        self._remember(key, card)
        return card

    def remembered(self, transcript: Sequence[dict[str, Any]]) -> dict[str, Any] | str | None:
        """The card (or the error text) from this transcript's summary call, if there was one."""
        with self._lock:
            return self._cards.pop(transcript_key(transcript), None)

    def _remember(self, key: str, value: dict[str, Any] | str) -> None:
        with self._lock:
            self._cards[key] = value
            while len(self._cards) > self.limit:
                self._cards.popitem(last=False)


class LlmSummariser:
    """The handoff summary staff read first; falls back to the extractive summary on any failure."""

    def __init__(self, notes: HandoffNotes, fallback: Summariser) -> None:
        self.notes = notes
        self.fallback = fallback

    def summarise(self, transcript: list[dict], issue_type: str, reasons: list[str]) -> str:
        """Ask for summary + card in one call; keep the extractive summary if that fails."""
        try:
            card = self.notes.ask(transcript, issue_type, reasons, {}, "summary")
        except Exception as exc:
            log.warning("LLM handoff summary failed (%s); using the extractive one", describe(exc))
            return self.fallback.summarise(transcript, issue_type, reasons)
        return card["summary"] or self.fallback.summarise(transcript, issue_type, reasons)


class LlmHandoffAnalyst:
    """Sentiment card for the staff: reuses the summary call's card, else one call, else heuristic."""

    def __init__(self, notes: HandoffNotes) -> None:
        self.notes = notes

    def __call__(self, transcript: list[dict], record: dict[str, Any]) -> dict[str, Any]:
        """Never raises: a malformed or failed model answer becomes a heuristic card."""
        earlier = self.notes.remembered(transcript)
        if isinstance(earlier, str):
            return heuristic_card(record, earlier)
        if earlier is None:
            try:
                earlier = self.notes.ask(
                    transcript,
                    str(record.get("issue_type", "")),
                    list(record.get("reasons") or []),
                    dict(record.get("signals") or {}),
                    "sentiment",
                )
                self.notes.remembered(transcript)
            except Exception as exc:
                return heuristic_card(record, describe(exc))
        return {**earlier, "summary": str(record.get("summary") or earlier.get("summary", ""))}
