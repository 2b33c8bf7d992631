"""The no-LLM answerer and summariser: verbatim knowledge-base text, framed by the persona."""

from __future__ import annotations

import re
from typing import Any

from graph.interfaces import AnswerDraft, Persona
from graph.turns import member_questions
from knowledge.contracts import Hit

LENGTH_CHARS = {"short": 320, "medium": 700, "long": 1400}
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an the and or but if to of in on for with at by from is are was were be been it this that "  # noqa: SIM905
    "i you we my your our me do does did how what why when where can could would should will "
    "please hi hello hey there thanks not its question help issue problem".split()
)


def content_terms(text: str) -> set[str]:
    """Distinct meaningful words (no stop words or single letters)."""
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def _body_without_title(hit: Hit) -> str:
    text = hit.text.strip()
    if text.startswith(hit.title):
        text = text[len(hit.title) :].lstrip(" \n:-#")
    return text.strip()


def trim_to_length(text: str, question: str, limit: int) -> str:
    """Keep whole paragraphs, starting from the one most about the question, within `limit`."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    if not paragraphs:
        return ""
    if sum(len(p) for p in paragraphs) <= limit:
        return "\n\n".join(paragraphs)
    wanted = content_terms(question)
    scores = [len(wanted & content_terms(p)) for p in paragraphs]
    start = max(range(len(paragraphs)), key=lambda i: (scores[i], -i))
    kept: list[str] = []
    used = 0
    for para in paragraphs[start:]:
        if used + len(para) > limit and kept:
            break
        if used + len(para) > limit:
            para = _cut_sentences(para, limit)
        kept.append(para)
        used += len(para)
    return "\n\n".join(kept)


def _cut_sentences(paragraph: str, limit: int) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", paragraph)
    out = ""
    for sentence in sentences:
        if len(out) + len(sentence) > limit and out:
            break
        out = f"{out} {sentence}".strip()
    return out if len(out) <= limit else out[: limit - 1].rsplit(" ", 1)[0] + "…"


OPENERS = {
    ("friendly", "neutral"): "Here's what our help center says about *{title}*:",
    ("friendly", "frustrated"): "Sorry for the hassle. Here's the fix from *{title}*:",
    ("friendly", "urgent"): "Here's what to do right away (from *{title}*):",
    ("friendly", "confused"): "No worries, here it is step by step (from *{title}*):",
    ("friendly", "satisfied"): "Glad to help! From *{title}*:",
    ("neutral", "neutral"): "From *{title}*:",
    ("formal", "neutral"): "According to our documentation (*{title}*):",
}


def opener(persona: Persona, mood: str, title: str) -> str:
    """Pick a framing line for the tone and the member's mood; it never adds facts."""
    template = (
        OPENERS.get((persona.tone, mood))
        or OPENERS.get((persona.tone, "neutral"))
        or OPENERS[("neutral", "neutral")]
    )
    return template.format(title=title)


class ExtractiveAnswerer:
    """Answers with the best chunk's own words, trimmed to the persona's length, cited."""

    model = "extractive"

    def answer(
        self, question: str, hits: list[Hit], persona: Persona, mood: str = "neutral"
    ) -> AnswerDraft:
        """Quote the top hit; ungrounded when there is nothing to quote."""
        if not hits:
            return AnswerDraft(text="", grounded=False)
        best = hits[0]
        body = trim_to_length(
            _body_without_title(best), question, LENGTH_CHARS.get(persona.length, 700)
        )
        if not body:
            return AnswerDraft(text="", grounded=False)
        parts = [opener(persona, mood, best.title), body]
        if persona.signoff:
            parts.append(persona.signoff)
        return AnswerDraft(text="\n\n".join(parts), citations=(best,), grounded=True)


class ExtractiveSummariser:
    """A handoff summary staff can read in five seconds, built from the transcript."""

    def summarise(
        self, transcript: list[dict[str, Any]], issue_type: str, reasons: list[str]
    ) -> str:
        """Who asked what, what the bot did, and why it is handing off."""
        member_lines = member_questions(transcript)
        bot_turns = [
            t for t in transcript if t.get("role") == "bot" and t.get("route") != "escalate"
        ]
        first = member_lines[0] if member_lines else "(no text)"
        first = first if len(first) <= 200 else first[:199] + "…"
        tried = (
            f"The bot replied {len(bot_turns)} time(s) before handing off."
            if bot_turns
            else "The bot did not answer."
        )
        latest = ""
        if len(member_lines) > 1:
            last = member_lines[-1]
            latest = f' Latest message: "{last if len(last) <= 160 else last[:159] + "…"}".'
        about = issue_type.replace("_", " ") if issue_type else "an unclassified issue"
        why = ", ".join(r.replace("_", " ") for r in reasons) or "unknown"
        return f'Member asked about {about}: "{first}".{latest} {tried} Handed off because: {why}.'
