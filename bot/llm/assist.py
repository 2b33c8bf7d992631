"""Agent assist: a grounded, cited reply suggestion for the staff thread, and whether staff used it."""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from bot.llm.answerer import check_answer, with_signoff
from bot.llm.prompts import assist_messages
from bot.llm.recorder import MalformedOutput, describe
from bot.models import Ticket
from graph.extractive import ExtractiveAnswerer
from graph.interfaces import AnswerDraft, Persona
from knowledge.contracts import Hit
from knowledge.models import utcnow

if TYPE_CHECKING:  # bot.app imports the core modules
    from bot.app import Deskhand

log = logging.getLogger(__name__)
ASSIST_USES = ("sent", "edited", "ignored")
ASSIST_K = 5


def suggest_reply(app: Deskhand, ticket_id: int) -> dict[str, Any]:
    """Draft a reply for staff from kb.search over the ticket's question; stored on the ticket.

    Uses the model when LLM mode is on (one call, validated like member answers); otherwise, or
    when the model fails or cannot ground it, the extractive answer. Empty text means no draft.
    """
    ticket = app.desk.get(ticket_id)
    question = ticket.question or ""
    hits: list[Hit] = app.kb.search(question, k=ASSIST_K) if question.strip() else []
    persona = _persona(app)
    draft, note = _draft(app, ticket, question, hits, persona)
    suggestion = {
        "text": draft.text if draft.grounded else "",
        "citations": [
            {"title": h.title, "url": h.url, "article_id": h.article_id, "score": round(h.score, 3)}
            for h in (draft.citations if draft.grounded else ())
        ],
        "model": draft.model,
        "grounded": bool(draft.grounded and draft.text),
    }
    if note:
        suggestion["note"] = note
    _merge_extra(app, ticket_id, {"suggested_reply": {**suggestion, "at": utcnow().isoformat()}})
    return suggestion


def record_assist_use(
    app: Deskhand, ticket_id: int, used: str, staff_id: str = "", final_text: str = ""
) -> dict[str, Any]:
    """Remember whether staff sent, edited or ignored the suggestion, so CSAT can be split by it."""
    if used not in ASSIST_USES:
        raise ValueError(f"used must be one of {', '.join(ASSIST_USES)}, not {used!r}")
    entry: dict[str, Any] = {"used": used, "staff_id": staff_id, "at": utcnow().isoformat()}
    if used == "edited" and final_text:
        entry["final_chars"] = len(final_text)
    return _merge_extra(app, ticket_id, {"assist": entry})


def _draft(
    app: Deskhand, ticket: Ticket, question: str, hits: list[Hit], persona: Persona
) -> tuple[AnswerDraft, str]:
    if not hits:
        return AnswerDraft(text="", grounded=False), "no knowledge match"
    llm = app.llm
    if llm is not None:
        transcript = json.loads(ticket.transcript or "[]")
        messages = assist_messages(question, transcript, hits, persona)
        result = None
        try:
            result = llm.recorder.invoke(
                llm.model, messages, "assist", conversation_id=ticket.conversation_id
            )
            checked = check_answer(result.text, hits)
        except Exception as exc:  # provider failure or malformed output: extractive draft
            if isinstance(exc, MalformedOutput) and result is not None:
                llm.recorder.mark(result.call_id, ok=False, error=describe(exc))
            note = describe(exc)
        else:
            if checked.grounded:
                text = with_signoff(checked.text, persona.signoff)
                return AnswerDraft(text, checked.citations, True, llm.name, result.tokens), ""
            llm.recorder.mark(result.call_id, ok=True, error=f"ungrounded:{checked.problem}")
            if checked.problem == "no_answer":
                return AnswerDraft(text="", grounded=False, model=llm.name), "model: not answerable"
            note = f"ungrounded:{checked.problem}"
        log.info("assist for ticket %s fell back to extractive (%s)", ticket.id, note)
        return ExtractiveAnswerer().answer(question, hits, persona, "neutral"), note
    return ExtractiveAnswerer().answer(question, hits, persona, "neutral"), ""


def _persona(app: Deskhand) -> Persona:
    try:
        raw = app.settings.persona() or {}
    except Exception:
        raw = {}
    return Persona(**{k: v for k, v in raw.items() if k in Persona.__dataclass_fields__})


def _merge_extra(app: Deskhand, ticket_id: int, update: dict[str, Any]) -> dict[str, Any]:
    """Merge keys into Ticket.extra (JSON) in one short transaction."""
    with Session(app.engine) as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise ValueError(f"There is no ticket #{ticket_id}.")
        extra = json.loads(ticket.extra or "{}")
        extra.update(update)
        ticket.extra = json.dumps(extra, default=str)
        session.add(ticket)
        session.commit()
        return extra


def classify_staff_reply(app: Deskhand, ticket_id: int, staff_text: str) -> str | None:
    """After a suggestion, was the staff's own reply an edit of it or a fresh one? None if no draft.

    Records the verdict (once per ticket) so CSAT can be compared by how much AI was used.
    """
    with Session(app.engine) as session:
        ticket = session.get(Ticket, ticket_id)
        extra = json.loads(ticket.extra or "{}") if ticket else {}
    suggestion = (extra.get("suggested_reply") or {}).get("text", "")
    if not suggestion or "assist" in extra:
        return None
    drafted, written = _word_set(suggestion), _word_set(staff_text)
    overlap = len(drafted & written) / max(1, len(written))
    used = "edited" if overlap >= 0.5 else "ignored"
    record_assist_use(app, ticket_id, used, final_text=staff_text)
    return used


def _word_set(text: str) -> set[str]:
    """Lower-cased words, for comparing a staff reply with the draft."""
    return set(re.findall(r"[a-z0-9]+", text.lower()))
