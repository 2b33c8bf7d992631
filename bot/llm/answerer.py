"""LlmAnswerer: one model call per answer, checked against the retrieved hits before it is sent."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.llm.prompts import NO_ANSWER, answer_messages
from bot.llm.recorder import LlmRecorder, MalformedOutput, describe
from graph.interfaces import AnswerDraft, Answerer, Persona
from knowledge.contracts import Hit

log = logging.getLogger(__name__)
CITATION = re.compile(r"\[(\s*\d+\s*(?:[,;]\s*\d+\s*)*)\]")
URL = re.compile(r"https?://[^\s<>()\[\]|\"']+")
MAX_ANSWER_CHARS = 4000


@dataclass
class Checked:
    """The outcome of validating a model's answer against the hits it was given."""

    grounded: bool
    text: str = ""
    citations: tuple[Hit, ...] = ()
    problem: str = ""
    cited: list[int] = field(default_factory=list)


def check_answer(raw: str, hits: Sequence[Hit]) -> Checked:
    """Grounded only if it is not NO_ANSWER, cites >=1 chunk, cites no unknown chunk or link."""
    text = raw.strip()
    if not text:
        raise MalformedOutput("empty answer")
    if NO_ANSWER in text.upper().replace(" ", "_"):
        return Checked(False, problem="no_answer")
    numbers = [int(n) for group in CITATION.findall(text) for n in re.split(r"[,;]", group)]
    if not numbers:
        return Checked(False, text=text, problem="no_citation")
    unknown = sorted({n for n in numbers if not 1 <= n <= len(hits)})
    if unknown:
        return Checked(False, text=text, problem=f"unknown_citation:{unknown}", cited=numbers)
    allowed = [_norm(h.url) for h in hits if h.url]
    strange = [u for u in URL.findall(text) if not any(_same_page(u, a) for a in allowed)]
    if strange:
        return Checked(False, text=text, problem="unknown_link", cited=numbers)
    renumbered, citations = renumber(text, numbers, hits)
    if len(renumbered) > MAX_ANSWER_CHARS:
        renumbered = renumbered[: MAX_ANSWER_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return Checked(True, text=renumbered, citations=citations, cited=numbers)


def _norm(url: str) -> str:
    return url.strip().rstrip(".,;:!?").rstrip("/").lower()


def _same_page(url: str, allowed: str) -> bool:
    """The same page (anchors and queries allowed); a look-alike host is not the same page."""
    url = _norm(url)
    return url == allowed or (url.startswith(allowed) and url[len(allowed)] in "/#?")


def renumber(text: str, numbers: list[int], hits: Sequence[Hit]) -> tuple[str, tuple[Hit, ...]]:
    """Number cited articles 1..m in order of first citation so [n] matches the listed links."""
    order: dict[int, int] = {}
    citations: list[Hit] = []
    for n in numbers:
        hit = hits[n - 1]
        if hit.article_id not in order:
            order[hit.article_id] = len(citations) + 1
            citations.append(hit)

    def fix(match: re.Match[str]) -> str:
        ids = [order[hits[int(n) - 1].article_id] for n in re.split(r"[,;]", match.group(1))]
        return "".join(f"[{i}]" for i in dict.fromkeys(ids))

    return CITATION.sub(fix, text), tuple(citations)


def with_signoff(text: str, signoff: str) -> str:
    """The persona's sign-off is appended by code, so the model cannot drop or alter it."""
    if signoff and signoff.strip() not in text:
        return f"{text}\n\n{signoff.strip()}"
    return text


class LlmAnswerer:
    """Writes the answer with a chat model; an honest 'don't know' escalates, a failure falls back.

    Classification stays local (the embedding classifier); this makes the only model call on the
    happy path of an answered message.
    """

    def __init__(self, model: Any, fallback: Answerer, recorder: LlmRecorder) -> None:
        self.model = model
        self.fallback = fallback
        self.recorder = recorder

    @property
    def model_name(self) -> str:
        """The configured model, as recorded on drafts and LlmCall rows."""
        return self.recorder.model_name

    def answer(
        self, question: str, hits: list[Hit], persona: Persona, mood: str = "neutral"
    ) -> AnswerDraft:
        """One call; validate citations; fall back to the extractive answer on provider failure."""
        if not hits:
            return AnswerDraft(text="", grounded=False, model=self.model_name)
        messages = answer_messages(question, hits, persona, mood)
        try:
            result = self.recorder.invoke(self.model, messages, "answer")
        except Exception as exc:
            log.warning("LLM answer failed (%s); using the extractive answer", describe(exc))
            return self._fallback(question, hits, persona, mood, describe(exc))
        meta: dict[str, Any] = {**result.tokens, "latency_ms": round(result.latency_ms, 2)}
        try:
            checked = check_answer(result.text, hits)
        except MalformedOutput as exc:
            self.recorder.mark(result.call_id, ok=False, error=describe(exc))
            return self._fallback(question, hits, persona, mood, describe(exc), meta)
        if not checked.grounded:
            self.recorder.mark(result.call_id, ok=True, error=f"ungrounded:{checked.problem}")
            return AnswerDraft(
                text=checked.text,
                grounded=False,
                model=self.model_name,
                meta={**meta, "ungrounded": checked.problem},
            )
        return AnswerDraft(
            text=with_signoff(checked.text, persona.signoff),
            citations=checked.citations,
            grounded=True,
            model=self.model_name,
            meta=meta,
        )

    def _fallback(
        self,
        question: str,
        hits: list[Hit],
        persona: Persona,
        mood: str,
        error: str,
        meta: dict[str, Any] | None = None,
    ) -> AnswerDraft:
        draft = self.fallback.answer(question, hits, persona, mood)
        info = {**(meta or {}), **draft.meta, "llm_error": error, "fallback": draft.model}
        return AnswerDraft(
            text=draft.text,
            citations=draft.citations,
            grounded=draft.grounded,
            model=draft.model,
            meta=info,
        )
