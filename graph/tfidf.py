"""Word 1-2-gram TF-IDF in plain NumPy, feature for feature what scikit-learn's TfidfVectorizer gives.

The settings the classifier uses: lower-case, tokens of two or more word characters
(`(?u)\\b\\w\\w+\\b`), unigrams then bigrams, sublinear tf (1 + ln tf), smooth idf
(ln((1 + n) / (1 + df)) + 1), rows scaled to unit length, vocabulary sorted alphabetically.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from graph.sparse_rows import SparseRows

_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def word_ngrams(text: str) -> list[str]:
    """Unigrams then space-joined bigrams of the lower-cased text."""
    tokens = _TOKEN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]


class WordTfidf:
    """Fit a vocabulary and idf weights on texts; turn texts into unit-length TF-IDF rows."""

    def __init__(
        self, vocabulary: dict[str, int] | None = None, idf: np.ndarray | None = None
    ) -> None:
        self.vocabulary_: dict[str, int] = dict(vocabulary or {})
        self.idf_: np.ndarray = (
            np.zeros(0, np.float32) if idf is None else np.asarray(idf, np.float32)
        )

    def fit_transform(self, texts: list[str]) -> SparseRows:
        """Learn the vocabulary (sorted) and idf from the texts, and return their rows."""
        counts = [Counter(word_ngrams(text)) for text in texts]
        terms = sorted({term for row in counts for term in row})
        self.vocabulary_ = {term: i for i, term in enumerate(terms)}
        matrix = self._counts(counts)
        df = np.bincount(matrix.indices, minlength=len(terms)).astype(np.float32)
        self.idf_ = (np.log(np.float32(len(texts) + 1) / (df + 1)) + 1).astype(np.float32)
        return self._weigh(matrix)

    def transform(self, texts: list[str]) -> SparseRows:
        """Rows for new texts; terms outside the fitted vocabulary are ignored."""
        return self._weigh(self._counts([Counter(word_ngrams(text)) for text in texts]))

    def _counts(self, counts: list[Counter[str]]) -> SparseRows:
        """Raw term counts as sparse rows, columns sorted within each row."""
        vocab = self.vocabulary_
        indptr = np.zeros(len(counts) + 1, np.int64)
        columns: list[int] = []
        values: list[int] = []
        for row, counter in enumerate(counts):
            known = sorted((vocab[t], c) for t, c in counter.items() if t in vocab)
            columns.extend(col for col, _ in known)
            values.extend(c for _, c in known)
            indptr[row + 1] = len(columns)
        return SparseRows(
            np.asarray(values, np.float32),
            np.asarray(columns, np.int64),
            indptr,
            (len(counts), len(vocab)),
        )

    def _weigh(self, matrix: SparseRows) -> SparseRows:
        """Sublinear tf times idf, then each row scaled to unit length (empty rows stay empty)."""
        data = (np.log(matrix.data) + 1) * self.idf_[matrix.indices]
        row_len = np.diff(matrix.indptr)
        rows = np.repeat(np.arange(len(row_len)), row_len)
        lengths = np.sqrt(np.bincount(rows, weights=data * data, minlength=len(row_len)))
        data = data / lengths[rows]
        return SparseRows(data.astype(np.float32), matrix.indices, matrix.indptr, matrix.shape)
