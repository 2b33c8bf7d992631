"""MiniLM's BERT WordPiece tokenizer in plain Python, read from the packaged tokenizer.json.

The Rust `tokenizers` package (with huggingface_hub and hf_xet, 33 MB installed) ran only this
pipeline: BertNormalizer (clean text, space out CJK, strip accents, lowercase), BertPreTokenizer
(whitespace and punctuation), greedy longest-match WordPiece, then [CLS] … [SEP] truncated to the
model's length. Same ids as `tokenizers` (tests/knowledge/test_wordpiece.py, dev extras).
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

# Rust's char::is_whitespace (the Unicode White_Space property) minus the controls clean_text drops
_WHITESPACE = frozenset("\t\n\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    chr(c) for c in range(0x2000, 0x200B)
)
_CJK = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
_OTHER = frozenset({"Cc", "Cf", "Co", "Cs"})
_ASCII_PUNCT = r"!-/:-@\[-`{-~"
_ASCII_WORDS = re.compile(rf"[^\s{_ASCII_PUNCT}]+|[{_ASCII_PUNCT}]")
_ASCII_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_SPACES = re.compile(r"[\t\n\r]")


def _is_cjk(c: str) -> bool:
    code = ord(c)
    return any(lo <= code <= hi for lo, hi in _CJK)


def _is_punct(c: str) -> bool:
    """BertPreTokenizer's punctuation: any ASCII symbol, or a Unicode P* character."""
    if c.isascii():
        return 33 <= ord(c) <= 126 and not c.isalnum()
    return unicodedata.category(c).startswith("P")


def _is_other(c: str) -> bool:
    """Control, format, private use or surrogate. Unassigned (Cn) stays: the Rust tables keep it."""
    return unicodedata.category(c) in _OTHER


def _transform(c: str) -> str:
    """One character through BertNormalizer, with spaces around what the pre-tokenizer isolates."""
    if c in "\x00\ufffd" or (c not in "\t\n\r" and _is_other(c)):
        return ""
    if c in _WHITESPACE:
        return " "
    if _is_cjk(c):
        return f" {c} "
    decomposed = unicodedata.normalize("NFD", c)
    kept = "".join(d.lower() for d in decomposed if unicodedata.category(d) != "Mn")
    return "".join(f" {k} " if _is_punct(k) else k for k in kept)


class _Transforms(dict[int, str]):
    """str.translate table filled on first sight of each character (bounded: a flood of rare
    characters is computed each time rather than kept)."""

    def __missing__(self, code: int) -> str:
        out = _transform(chr(code))
        if len(self) < 20_000:
            self[code] = out
        return out


_TRANSFORMS = _Transforms()


def _words(text: str) -> list[str]:
    """Normalised words: split on whitespace, each punctuation character on its own."""
    if text.isascii():
        cleaned = _ASCII_SPACES.sub(" ", _ASCII_CONTROLS.sub("", text)).lower()
        return _ASCII_WORDS.findall(cleaned)
    return text.translate(_TRANSFORMS).split()


class WordPieceTokenizer:
    """Text to MiniLM input ids, [CLS] and [SEP] included, at most `max_tokens` long."""

    def __init__(self, tokenizer_json: Path, max_tokens: int) -> None:
        spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
        model = spec["model"]
        self._vocab: dict[str, int] = model["vocab"]
        self._unk = self._vocab[model["unk_token"]]
        self._prefix = model["continuing_subword_prefix"]
        self._max_chars = int(model["max_input_chars_per_word"])
        self._cls, self._sep = self._vocab["[CLS]"], self._vocab["[SEP]"]
        self._max_tokens = max_tokens
        specials = [t["content"] for t in spec["added_tokens"] if t["special"]]
        # special tokens typed in the text are matched before normalisation, as `tokenizers` does
        self._specials = re.compile("|".join(re.escape(t) for t in specials)) if specials else None
        self._pieces: dict[str, list[int]] = {}

    def _word_ids(self, word: str) -> list[int]:
        """Greedy longest-match pieces; a word with an unknown piece is one [UNK]."""
        cached = self._pieces.get(word)
        if cached is not None:
            return cached
        ids: list[int] = []
        start = 0 if len(word) <= self._max_chars else len(word)
        if start:
            ids = [self._unk]
        while start < len(word):
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else self._prefix + word[start:end]
                found = self._vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                ids = [self._unk]
                break
            ids.append(found)
            start = end
        if (
            len(self._pieces) < 50_000
        ):  # common words stay cached; a flood of new ones doesn't grow it
            self._pieces[word] = ids
        return ids

    def _text_ids(self, text: str) -> list[int]:
        ids: list[int] = []
        parts, specials = [text], []
        if self._specials is not None and "[" in text:
            parts, specials = self._specials.split(text), self._specials.findall(text)
        for n, part in enumerate(parts):
            for word in _words(part):
                ids.extend(self._word_ids(word))
            if n < len(specials):
                ids.append(self._vocab[specials[n]])
        return ids

    def encode(self, text: str) -> list[int]:
        """[CLS] + pieces + [SEP], the pieces cut to fit `max_tokens`."""
        return [self._cls, *self._text_ids(text)[: self._max_tokens - 2], self._sep]
