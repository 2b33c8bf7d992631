"""escalate: build the handoff record staff need and tell the member honestly what happens next."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.deps import GraphDeps
from graph.language import NAMES
from graph.phrases import phrase
from graph.state import SupportState
from graph.turns import member_questions

URGENT_TRIGGERS = {"legal", "regulatory", "security", "account_takeover"}
OPENINGS = {
    "human_requested": "Sure, I'll get a person for you.",
    "member_requested_human": "Sure, I'll get a person for you.",
    "not_helpful": "Sorry that didn't help.",
    "out_of_scope": "That's outside what I can help with here, so I'm passing it to the team.",
    "low_confidence": "I'm not confident I have the right answer, and I'd rather not guess.",
    "no_knowledge_match": "I couldn't find this in our help center, and I'd rather not guess.",
    "answer_not_grounded": "I couldn't find a reliable answer, and I'd rather not guess.",
    "clarify_limit_reached": "I'm still not sure I understand, so let's get you a person.",
    "frustrated": "I'm sorry this has been frustrating.",
    "repeat_contact": "I can see you've asked about this before, so let's get a person on it.",
    "no_option_fit": "Thanks, I'll get a person to look at it.",
}


def severity_for(reasons: list[str], signals: dict[str, Any]) -> str:
    """urgent for legal/security/takeover or urgent wording, high for frustration/VIP/repeats."""
    if URGENT_TRIGGERS & set(reasons) or signals.get("urgency") == "high":
        return "urgent"
    if {"frustrated", "vip", "repeat_contact"} & set(reasons) or signals.get(
        "mood"
    ) == "frustrated":
        return "high"
    return "normal"


def member_notice(reasons: list[str], team: str, lang: str = "en") -> str:
    """An honest message: a person will pick it up here, with the full context."""
    if lang != "en":
        return phrase("escalation_notice", lang, team=team)
    if URGENT_TRIGGERS & set(reasons):
        opening = "This needs a person on our team, so I've flagged it as a priority."
    else:
        opening = next(
            (OPENINGS[r] for r in reasons if r in OPENINGS),
            "Let me get a person to help with this.",
        )
    return (
        f"{opening} I've passed your question to our {team} team with everything you've said so far, "
        "so you won't need to repeat yourself. A person will reply right here in this thread."
    )


def last_question(state: SupportState) -> str:
    """The member's last real question: what was searched for, never a button press."""
    asked = member_questions(state.get("transcript") or [])
    return (
        state.get("query")
        or state.get("clean_text")
        or state.get("pending_question")
        or (asked[-1] if asked else "")
    )


def escalate(state: SupportState, runtime: Runtime[GraphDeps]) -> dict[str, Any]:
    """Assemble the Escalation record: reasons, type, severity, summary, transcript, articles, team."""
    deps = runtime.context
    reasons = list(state.get("reasons") or [])
    if not any(
        r in OPENINGS or r in URGENT_TRIGGERS or r.startswith("needs_person") for r in reasons
    ):
        reasons = reasons or ["low_confidence"]
    cls = state.get("classification") or {}
    signals = state.get("signals") or {}
    issue_type = cls.get("issue_type") or ""
    entry = deps.scope.get(issue_type)
    team = cls.get("team") or (entry.team if entry else "") or "support"
    lang = str(state.get("language") or "en")
    if lang != "en":  # say on the card why the bot could not help: it only reads English
        reasons = [*reasons, f"language:{lang}"]
    notice = member_notice(reasons, team, lang)
    transcript = [
        *state.get("transcript", []),
        {"role": "bot", "text": notice, "route": "escalate"},
    ]
    bot_said = [t["text"] for t in state.get("transcript", []) if t.get("role") == "bot"]
    record: dict[str, Any] = {
        "reasons": reasons,
        "issue_type": issue_type,
        "confidence": float(state.get("confidence") or 0.0),
        "classifier_confidence": cls.get("confidence", 0.0),
        "severity": severity_for(reasons, signals),
        "sentiment": signals.get("mood", "neutral"),
        "signals": signals,
        "question": last_question(state),
        "transcript": transcript,
        "member": dict(state.get("member") or {}),
        "articles": [
            {
                "article_id": h["article_id"],
                "title": h["title"],
                "url": h["url"],
                "score": round(h["score"], 3),
            }
            for h in state.get("hits") or []
        ],
        "attempted_answer": state.get("attempted_answer") or (bot_said[-1] if bot_said else ""),
        "team": team,
        "language": lang,
        "language_name": NAMES.get(lang, lang),
    }
    try:
        record["summary"] = deps.summariser.summarise(transcript, issue_type, reasons)
    except Exception:
        record["summary"] = f"Escalated ({', '.join(reasons)}): {record['question'][:200]}"
    if "repeat_contact" in reasons and cls.get("repeat_of"):  # on every card: which thread, why
        record["repeat_of"] = cls["repeat_of"]
        record["summary"] = f"{record['summary']} Repeat contact: {cls['repeat_of']}."
    if deps.handoff_analyst is not None:
        try:
            record["analysis"] = deps.handoff_analyst(transcript, record)
        except Exception as exc:
            record["analysis_error"] = type(exc).__name__
    return {
        "route": "escalate",
        "reasons": reasons,
        "reply": notice,
        "escalation": record,
        "pending_question": "",
        "clarify_turns": 0,
        "transcript": [{"role": "bot", "text": notice, "route": "escalate"}],
    }
