"""Draft articles served beside the published index, for one experiment arm only.

A DraftView is the index as the candidate arm of an experiment sees it: each draft replaces the
published article it edits (same id) or joins as a new article (a negative id, -candidate id).
The drafts are chunked and embedded once, when the view is made; the merged in-memory copy is
rebuilt only when the published table changes, never per message, and the published index is
never written. BM25 runs over the merged rows, so a draft scores on the same scale as the
article it replaces.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.bm25 import Bm25, analyse
from knowledge.snapshot import ChunkSnapshot, fts_query

if TYPE_CHECKING:  # lancedb and pyarrow load only when an index is really used
    from knowledge.read_path import KnowledgeIndex

COLUMNS = ("chunk_id", "article_id", "version", "title", "url", "topic", "text")


@dataclass
class DraftArticle:
    """A draft as the index needs it: `id` is the article it edits, or -candidate for a new one."""

    id: int | None
    version: int
    title: str
    body: str
    url: str = ""
    topic: str = "general"


class DraftView:
    """Search over the published chunks with some articles swapped for drafts (read-only)."""

    def __init__(self, index: KnowledgeIndex, drafts: Sequence[DraftArticle]) -> None:
        self.index = index
        self.embedder = index.embedder
        self.replaced = {int(d.id) for d in drafts if d.id is not None}
        rows = index.rows_for(drafts)
        self._rows = [{k: r[k] for k in COLUMNS} for r in rows]
        dim = self.embedder.dim
        self._vectors = (
            np.stack([np.asarray(r["vector"], dtype=np.float32) for r in rows])
            if rows
            else np.zeros((0, dim), np.float32)
        )
        self._lock = threading.Lock()
        self._merged: ChunkSnapshot | None = None
        self._base_version: int | None = None
        self._analysed: dict[str, list[str]] = {}

    def _view(self) -> ChunkSnapshot | None:
        """Published rows minus the replaced articles, plus the drafts (cached per table version)."""
        base = self.index.current_snapshot()
        if base is None:
            return None
        with self._lock:
            if self._merged is None or self._base_version != base.version:
                keep = [i for i, r in enumerate(base.rows) if r["article_id"] not in self.replaced]
                rows = [base.rows[i] for i in keep] + self._rows
                vectors = np.vstack([base.vectors[keep], self._vectors]) if keep else self._vectors
                self._merged, self._base_version = (
                    ChunkSnapshot(base.version, rows, vectors),
                    base.version,
                )
            return self._merged

    def search_vector(self, vector: np.ndarray, k: int = 50) -> list[dict[str, Any]]:
        """Nearest chunks by cosine, drafts included."""
        vec = np.asarray(vector, dtype=np.float32).reshape(-1)
        view = self._view()
        if view is not None:
            return view.nearest(vec, k)
        published = [  # a table too big to hold: filter LanceDB's answer, add the drafts
            r for r in self.index.search_vector(vec, k + 64) if r["article_id"] not in self.replaced
        ]
        norm = float(np.linalg.norm(vec)) or 1.0
        sims = self._vectors @ (vec / norm) if len(self._rows) else np.zeros(0)
        drafts = [{**r, "cosine": float(s)} for r, s in zip(self._rows, sims, strict=True)]
        return sorted(published + drafts, key=lambda r: -r["cosine"])[:k]

    def search_text(self, text: str, k: int = 50) -> list[dict[str, Any]]:
        """BM25 matches over the merged rows, drafts included."""
        query = fts_query(text)
        if not query or k <= 0:
            return []
        view = self._view()
        if view is not None:
            with self._lock:
                bm25 = view.bm25(self._analysed)
            return view.matches(bm25, query, k)
        published = [
            r for r in self.index.search_text(text, k + 64) if r["article_id"] not in self.replaced
        ]
        own = Bm25([analyse(r["text"]) for r in self._rows])  # its own statistics: approximate
        drafts = [{**self._rows[i], "bm25": s} for i, s in own.search(query, k)]
        return sorted(published + drafts, key=lambda r: -r["bm25"])[:k]

    def chunks_of(self, article_id: int) -> list[dict[str, Any]]:
        """The chunks of one article as this view serves it."""
        if int(article_id) in self.replaced or int(article_id) < 0:
            rows = [r for r in self._rows if r["article_id"] == int(article_id)]
            return sorted(rows, key=lambda r: int(r["chunk_id"].rsplit(":", 1)[1]))
        return self.index.chunks_of(article_id)
