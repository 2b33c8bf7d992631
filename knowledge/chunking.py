"""Split articles into small, self-contained chunks so retrieval can point at the right passage."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARS = 800
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Chunk:
    """One indexed passage; chunk 0 is the title alone, later chunks are title + a body section."""

    chunk_id: str
    n: int
    text: str

    @property
    def is_title(self) -> bool:
        """True for the title-only chunk (matches questions phrased like the title)."""
        return self.n == 0


def chunk_id(article_id: int, version: int, n: int) -> str:
    """Stable id of chunk `n` of one article version."""
    return f"{article_id}:{version}:{n}"


def is_title_chunk(cid: str) -> bool:
    """True when a chunk id names the title-only chunk."""
    return cid.endswith(":0")


def _sections(body: str) -> list[str]:
    """Split on Markdown headings; each section keeps its heading line."""
    sections: list[list[str]] = [[]]
    in_fence = False
    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if not in_fence and _HEADING.match(line) and any(s.strip() for s in sections[-1]):
            sections.append([])
        sections[-1].append(line)
    return [text for s in sections if (text := "\n".join(s).strip())]


def _pieces(paragraph: str, limit: int) -> list[str]:
    """Break an over-long paragraph into sentence runs, hard-splitting only as a last resort."""
    if len(paragraph) <= limit:
        return [paragraph]
    out: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(paragraph):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if current:
                out.append(current)
                current = ""
            out.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > limit:
            out.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        out.append(current)
    return [p for p in out if p]


def split_body(body: str, limit: int) -> list[str]:
    """Pack paragraphs of each heading section into passages of at most `limit` characters."""
    passages: list[str] = []
    for section in _sections(body):
        current = ""
        for para in re.split(r"\n\s*\n", section):
            para = para.strip()
            if not para:
                continue
            for piece in _pieces(para, limit):
                if current and len(current) + 2 + len(piece) > limit:
                    passages.append(current)
                    current = piece
                else:
                    current = f"{current}\n\n{piece}" if current else piece
        if current:
            passages.append(current)
    return passages


def chunk_article(
    article_id: int, version: int, title: str, body: str, max_chars: int = MAX_CHARS
) -> list[Chunk]:
    """Chunk 0 is the title; then title-prefixed passages of roughly <= max_chars characters."""
    title = " ".join(title.split())
    chunks = [Chunk(chunk_id(article_id, version, 0), 0, title)]
    limit = max(200, max_chars - len(title) - 2)
    for n, passage in enumerate(split_body(body, limit), start=1):
        chunks.append(Chunk(chunk_id(article_id, version, n), n, f"{title}\n\n{passage}"))
    return chunks
