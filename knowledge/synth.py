"""Question-like phrasings synthesised from articles: what members probably ask this help center."""

from __future__ import annotations

import random
import re

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_MARKUP = re.compile(r"[*_`>|\[\]]|\(https?://[^)]*\)|^\s*[-+]\s+|^\s*\d+\.\s+", re.MULTILINE)
MIN_WORDS = 3
MAX_WORDS = 40


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", _MARKUP.sub(" ", text)).strip()


def _ok(text: str) -> bool:
    return MIN_WORDS <= len(text.split()) <= MAX_WORDS


def article_phrasings(title: str, body: str, sentences: int = 2) -> list[str]:
    """Title, headings and the first sentences of the body (FAQ questions are titles already)."""
    out = [_plain(title)]
    out += [_plain(h) for h in _HEADING.findall(body)]
    prose = "\n".join(line for line in body.splitlines() if not _HEADING.match(line))
    paragraphs = [p for p in re.split(r"\n\s*\n", prose) if p.strip()]
    firsts = [_plain(_SENTENCE.split(p.strip())[0]) for p in paragraphs]
    out += [s for s in firsts if _ok(s)][:sentences]
    seen: set[str] = set()
    unique = []
    for text in out:
        key = text.lower()
        if text and key not in seen and len(text.split()) <= MAX_WORDS:
            seen.add(key)
            unique.append(text)
    return unique


def paraphrase_by_dropout(text: str, rng: random.Random, keep: float = 0.6) -> str:
    """A rough paraphrase: keep a random subset of the words (order kept), at least three."""
    words = text.split()
    if len(words) <= MIN_WORDS:
        return text
    kept = [w for w in words if rng.random() < keep]
    return " ".join(kept if len(kept) >= MIN_WORDS else words[:MIN_WORDS])
