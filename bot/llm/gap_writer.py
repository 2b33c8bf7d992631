"""The LLM writes a gap's article from the staff answers in its tickets; code checks its citations."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.llm.prompts import NO_ANSWER, gap_draft_messages
from bot.llm.recorder import MalformedOutput, describe

if TYPE_CHECKING:
    from bot.llm.setup import LlmRuntime

CITED = re.compile(r"\[\s*#\s*\d+(?:\s*[,;]\s*#?\s*\d+)*\s*\]")
URL = re.compile(r"https?://[^\s<>()\[\]|\"']+")
TITLE = re.compile(r"^\s*\**\s*title\s*\**\s*:\s*(.+)$", re.IGNORECASE)
MAX_BODY_CHARS = 6000


class UnsupportedDraft(ValueError):
    """The model's article cites tickets it was not given, or none, or links no staff answer has."""


@dataclass(frozen=True)
class WrittenArticle:
    """A checked LLM draft: every citation is one of the tickets it was given."""

    title: str
    body: str
    cited: list[int]


def cited_tickets(text: str) -> list[int]:
    """Ticket ids cited as [#12] or [#12, #14], in order of first citation."""
    found = [int(n) for group in CITED.findall(text) for n in re.findall(r"\d+", group)]
    return list(dict.fromkeys(found))


def check_article(raw: str, tickets: Sequence[tuple[int, str, str]]) -> WrittenArticle:
    """Title and body, if the draft cites at least one given ticket and nothing else."""
    text = raw.strip()
    if not text:
        raise MalformedOutput("empty draft")
    if NO_ANSWER in text.upper().replace(" ", "_"):
        raise UnsupportedDraft("the model found the staff answers too thin for an article")
    lines = text.splitlines()
    title_match = TITLE.match(lines[0])
    if title_match is None:
        raise MalformedOutput("no TITLE line")
    title = CITED.sub("", title_match.group(1)).strip(" *#\"'")
    body = "\n".join(lines[1:]).strip()
    if not title or not body:
        raise MalformedOutput("empty title or body")
    cited = cited_tickets(body)
    known = {tid for tid, _, _ in tickets}
    unknown = [t for t in cited if t not in known]
    if unknown:
        raise UnsupportedDraft(
            f"cites tickets it was not given: {', '.join(f'#{t}' for t in unknown)}"
        )
    if not cited:
        raise UnsupportedDraft("cites no ticket")
    answers = " ".join(a for _, _, a in tickets).lower()
    strange = [u for u in URL.findall(body) if u.rstrip(".,;:!?").lower() not in answers]
    if strange:
        raise UnsupportedDraft(f"has a link no staff answer gave: {strange[0]}")
    return WrittenArticle(title[:200], body[:MAX_BODY_CHARS], cited)


def write_gap_article(
    llm: LlmRuntime, examples: Sequence[str], tickets: Sequence[tuple[int, str, str]]
) -> WrittenArticle:
    """One model call (bounded by the LLM timeout); raises on provider errors and bad drafts."""
    result = llm.recorder.invoke(llm.model, gap_draft_messages(examples, tickets), "gap_draft")
    try:
        return check_article(result.text, tickets)
    except (MalformedOutput, UnsupportedDraft) as exc:
        llm.recorder.mark(result.call_id, ok=False, error=describe(exc))
        raise
