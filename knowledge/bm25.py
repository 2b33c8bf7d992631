"""In-memory Okapi BM25 over chunk texts: LanceDB's full-text scoring without a round trip per query.

Same analysis as the LanceDB/tantivy index it replaces on the hot path (split on non-alphanumerics,
lower-case, ASCII-fold, Snowball English stems, no stop-word removal) and the same formula
(k1 = 1.2, b = 0.75, idf = ln(1 + (N - n + 0.5) / (n + 0.5))), so scores keep their scale.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

K1 = 1.2
B = 0.75
MAX_TOKEN_CHARS = 40
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    """Snowball (Porter2) stem of one lower-cased, ASCII-folded word."""
    folded = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode() or word
    return str(_stemmer().stemWord(folded))


def analyse(text: str) -> list[str]:
    """Text to index terms: words, lower-cased, folded, stemmed; over-long tokens dropped."""
    return [_stem(w) for w in _TOKEN.findall(text.lower()) if len(w) <= MAX_TOKEN_CHARS]


class Bm25:
    """Per-term postings of precomputed BM25 weights; a query sums its terms' postings per document."""

    def __init__(self, analysed: Sequence[Sequence[str]]) -> None:
        self.n_docs = len(analysed)
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[int] = []
        lengths = np.zeros(self.n_docs, dtype=np.float32)
        for row, terms in enumerate(analysed):
            lengths[row] = len(terms)
            for term, count in Counter(terms).items():
                rows.append(row)
                cols.append(vocab.setdefault(term, len(vocab)))
                tfs.append(count)
        self.vocab = vocab
        tf = np.asarray(tfs, dtype=np.float32)
        row_ix = np.asarray(rows, dtype=np.int64)
        col_ix = np.asarray(cols, dtype=np.int64)
        df = np.bincount(col_ix, minlength=len(vocab)).astype(np.float32)
        idf = np.log1p((self.n_docs - df + 0.5) / (df + 0.5))
        avg = float(lengths.mean()) if self.n_docs else 1.0
        norm = K1 * (1 - B + B * lengths[row_ix] / (avg or 1.0))
        weights = idf[col_ix] * tf * (K1 + 1) / (tf + norm)
        order = np.argsort(col_ix, kind="stable")  # column-major: a term's postings are one slice
        self._rows = row_ix[order]
        self._weights = weights[order].astype(np.float32)
        self._starts = np.r_[0, np.cumsum(df)].astype(np.int64)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(document row, BM25 score) of the k best documents with any query term, best first."""
        terms = [self.vocab[t] for t in analyse(query) if t in self.vocab]
        if not terms or k <= 0:
            return []
        postings = np.concatenate([np.arange(self._starts[t], self._starts[t + 1]) for t in terms])
        scores = np.bincount(
            self._rows[postings], weights=self._weights[postings], minlength=self.n_docs
        )
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        hits = hits[np.argsort(-scores[hits], kind="stable")]
        return [(int(i), float(scores[i])) for i in hits]
