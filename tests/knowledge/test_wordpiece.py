"""The plain-Python WordPiece gives MiniLM the ids the Rust `tokenizers` gives it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.minilm_onnx import MAX_TOKENS, model_dir
from knowledge.wordpiece import WordPieceTokenizer
from tests.conftest import DATASETS

SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "sample"

# ids written down from `tokenizers` 0.23 on the packaged tokenizer.json
KNOWN = {
    "How do I reset my password?": [101, 2129, 2079, 1045, 25141, 2026, 20786, 1029, 102],
    "café naïve — 返金 🙂": [101, 7668, 15743, 1517, 100, 1964, 100, 102],
    "I want a human. My invoice shows [/b] and [red]weird[/red] [MASK]": [
        101,
        1045,
        2215,
        1037,
        2529,
        1012,
        2026,
        1999,
        6767,
        6610,
        3065,
        1031,
        1013,
        1038,
        1033,
        1998,
        1031,
        2417,
        1033,
        6881,
        1031,
        1013,
        2417,
        1033,
        103,
        102,
    ],  # fmt: skip
    "Straße ΣΑΣ İstanbul x²": [101, 2358, 27807, 1173, 14608, 29733, 9960, 1060, 10701, 102],
    "a" * 101: [101, 100, 102],  # longer than max_input_chars_per_word: one [UNK]
    "": [101, 102],
}

EDGE_CASES = [
    "Ünïcödé straße ﬁ ① ½ x²  \u00a0nbsp\u2003em\u200bzw \x0bvt\x0cff\x1cfs\x85nel\x7f",
    "e-mail: foo@bar.com, $5.00 +/- 3% ~ok~ `code` {a|b} <tag> [CLS]x[SEP]y",
    "日本語のテキスト、한국어 텍스트, ไทย, עברית, العربية",
    "emoji 👍🏽👨‍👩‍👧 ✓ ™ © ® … « » „ “ ” ‘ ’ \ufffd\x00null \ue000private",
    "supercalifragilisticexpialidocious antidisestablishmentarianism\t\n\r  spaces  ",
    "¿Dónde está mi paquete? Debía llegar el lunes. Où est mon colis ? Wo ist mein Paket?",
]
# common blocks, one character at a time inside and around words
SWEEP = [
    f"a{chr(c)}b c{chr(c)} {chr(c)}d"
    for lo, hi in [(0x20, 0x250), (0x370, 0x530), (0x2000, 0x2070), (0x3000, 0x3040)]
    for c in range(lo, hi)
]


@pytest.fixture(scope="module")
def ours() -> WordPieceTokenizer:
    return WordPieceTokenizer(model_dir() / "tokenizer.json", MAX_TOKENS)


@pytest.mark.parametrize("text", list(KNOWN))
def test_known_ids(ours: WordPieceTokenizer, text: str) -> None:
    assert ours.encode(text) == KNOWN[text]


def test_long_text_is_cut_to_the_model_length_with_sep_last(ours: WordPieceTokenizer) -> None:
    ids = ours.encode("refund " * 400)
    assert len(ids) == MAX_TOKENS and ids[0] == 101 and ids[-1] == 102


def _real_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SAMPLE.rglob("*.md"))]
    for path in sorted(DATASETS.rglob("*.jsonl"))[:12] if DATASETS.exists() else []:
        with path.open(encoding="utf-8") as lines:
            texts.extend(json.dumps(json.loads(line), ensure_ascii=False) for line in lines)
    return texts


def test_same_ids_as_rust_tokenizers(ours: WordPieceTokenizer) -> None:
    tokenizers = pytest.importorskip("tokenizers")  # dev extras: the reference
    reference = tokenizers.Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    reference.enable_truncation(max_length=MAX_TOKENS)
    reference.no_padding()
    texts = [*KNOWN, *EDGE_CASES, *SWEEP, *_real_texts()]
    expected = [e.ids for e in reference.encode_batch(texts)]
    mismatched = [t for t, ids in zip(texts, expected, strict=True) if ours.encode(t) != ids]
    assert not mismatched, mismatched[:3]
