"""Reads mood, urgency and hard escalation triggers from chat text, with no model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_I = re.IGNORECASE

HUMAN_REQUEST = re.compile(
    r"\b(talk|speak|chat|connect me|put me through)\b.{0,25}\b(human|person|agent|someone|somebody|"
    r"representative|staff|support team|real person|manager)\b|\b(real|actual|live) (person|human|agent)\b"
    r"|\b(get|give|find) me (a |an )?(human|person|agent|representative|real person)\b"
    r"|\b(need|want) (a |an )?(human|agent|representative|real person|live agent)\b"
    r"|\b(human|person|agent|representative) please\b|\bescalate (this|it|me)\b|\bnot a bot\b",
    _I,
)
LEGAL = re.compile(
    r"\b(lawyer|attorney|solicitor|lawsuit|sue|suing|legal action|court|small claims|"
    r"cease and desist|class action)\b",
    _I,
)
REGULATORY = re.compile(
    r"\b(gdpr|ccpa|hipaa|data protection (authority|officer)|regulator|ombudsman|"
    r"right to be forgotten|subject access request|dsar|consumer protection|chargeback)\b",
    _I,
)
SECURITY = re.compile(
    r"\b(security (hole|issue|vulnerability|flaw|breach)|vulnerability|exploit|data breach|leaked|"
    r"phishing|xss|sql injection|cve-\d+)\b",
    _I,
)
ACCOUNT_TAKEOVER = re.compile(
    r"\b(hacked|compromised|someone (else )?(logged|signed) in|unauthori[sz]ed (access|login|charge)|"
    r"account (was )?(stolen|taken over)|changed my (email|password) without|i didn'?t make (this|these))\b",
    _I,
)
REPEAT_CUES = re.compile(
    r"\b(third|3rd|fourth|4th|fifth|5th|another) time\b|\b(again and again|still (not|isn'?t|doesn'?t|broken|waiting))\b"
    r"|\basked (this )?(already|before)\b|\b(keep|kept) (asking|contacting)\b",
    _I,
)
URGENT = re.compile(
    r"\b(asap|urgent|urgently|immediately|right now|emergency|critical|production is down|"
    r"prod is down|outage|losing money|deadline)\b",
    _I,
)
FRUSTRATED = re.compile(
    r"\b(ridiculous|unacceptable|useless|terrible|awful|worst|angry|furious|fed up|sick of|"
    r"frustrat\w*|annoy\w*|wtf|wth|joke|scam|garbage|pathetic|disappointed|nothing works|"
    r"waste of (time|money)|cancel everything)\b",
    _I,
)
CONFUSED = re.compile(
    r"\b(confus\w*|don'?t understand|not sure how|lost|no idea|how do i even|makes no sense)\b", _I
)
SATISFIED = re.compile(r"\b(thanks|thank you|great|awesome|perfect|love it|appreciate)\b", _I)
INJECTION = re.compile(
    r"\b(ignore|disregard|forget) (all |any )?(the |your )?(previous|prior|above|earlier) "
    r"(instructions|prompts?|rules)\b|\bsystem prompt\b|\byou are now\b|\bact as\b|\bjailbreak\b",
    _I,
)


@dataclass
class Signals:
    """What the text says about the member's state, and which hard triggers fired."""

    mood: str = "neutral"  # neutral | frustrated | urgent | confused | satisfied
    sentiment: float = 0.0  # -1 (angry) .. +1 (happy)
    urgency: str = "normal"  # normal | high
    cues: list[str] = field(default_factory=list)
    triggers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for the checkpointed state."""
        return {
            "mood": self.mood,
            "sentiment": self.sentiment,
            "urgency": self.urgency,
            "cues": list(self.cues),
            "triggers": list(self.triggers),
        }


def _caps_ratio(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 12:
        return 0.0
    return sum(c.isupper() for c in letters) / len(letters)


def read_signals(text: str, tier: str = "") -> Signals:
    """Score frustration/urgency cues and collect hard triggers that always escalate."""
    sig = Signals()
    if HUMAN_REQUEST.search(text):
        sig.triggers.append("human_requested")
    if LEGAL.search(text):
        sig.triggers.append("legal")
    if REGULATORY.search(text):
        sig.triggers.append("regulatory")
    if SECURITY.search(text):
        sig.triggers.append("security")
    if ACCOUNT_TAKEOVER.search(text):
        sig.triggers.append("account_takeover")
    if tier.lower() == "vip":
        sig.triggers.append("vip")

    if _caps_ratio(text) > 0.6:
        sig.cues.append("all_caps")
    if re.search(r"[!?]{3,}", text):
        sig.cues.append("repeated_punctuation")
    if FRUSTRATED.search(text):
        sig.cues.append("frustrated_words")
    if REPEAT_CUES.search(text):
        sig.cues.append("repeat_contact_words")
    if URGENT.search(text):
        sig.cues.append("urgent_words")

    frustration = sum(
        c in sig.cues
        for c in ("all_caps", "repeated_punctuation", "frustrated_words", "repeat_contact_words")
    )
    if "urgent_words" in sig.cues:
        sig.urgency = "high"
    if frustration:
        sig.mood = "frustrated"
        sig.sentiment = -min(1.0, 0.4 * frustration)
    elif sig.urgency == "high":
        sig.mood = "urgent"
        sig.sentiment = -0.2
    elif CONFUSED.search(text):
        sig.mood = "confused"
    elif SATISFIED.search(text):
        sig.mood = "satisfied"
        sig.sentiment = 0.6
    if frustration >= 2:
        sig.triggers.append("frustrated")
    return sig


def looks_like_injection(text: str) -> bool:
    """True when the text tries to instruct the bot rather than ask a question."""
    return bool(INJECTION.search(text))
