"""The index as read-only commands see it: the snapshot file when current, LanceDB otherwise.

`deskhand kb search` and `deskhand ask` read the search snapshot kept in the home
(knowledge.snapshot) and never import lancedb or pyarrow while it matches SQL, the embedder and
the table. When it is missing, stale or damaged, or as soon as anything is written, the real
LanceIndex is opened (and it rewrites the file after its writes).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from knowledge.contracts import Embedder
from knowledge.snapshot import (
    ChunkSnapshot,
    SnapshotFile,
    SnapshotSearch,
    article_centroids,
    article_state,
    article_vectors,
    current_snapshot,
    lance_table_version,
)

if TYPE_CHECKING:
    import numpy as np

    from knowledge.index import ArticleLike, LanceIndex, Progress

TABLE_DIR = "chunks.lance"
ARTICLE_TABLE = "article"  # knowledge.models.Article's table (tests/knowledge/test_read_path.py)


def sqlite_article_versions(db_file: Path) -> Callable[[], dict[int, int]]:
    """Version per article id read with sqlite3: `kb search` needs no SQLAlchemy for a SQLite home."""

    def read() -> dict[int, int]:
        with sqlite3.connect(db_file, timeout=5) as conn:
            rows = conn.execute(f"SELECT id, version FROM {ARTICLE_TABLE}").fetchall()
        return {int(aid): int(ver) for aid, ver in rows if aid is not None}

    return read


class ReadPathIndex:
    """LanceIndex's interface, served from the snapshot file while it is current (read-only use)."""

    def __init__(
        self,
        path: Path | str,
        embedder: Embedder,
        snapshot_file: SnapshotFile,
        sql_versions: Callable[[], dict[int, int]],
    ) -> None:
        self.path = Path(path)
        self.embedder = embedder
        self.snapshot_file = snapshot_file
        self._sql_versions = sql_versions
        self._search = SnapshotSearch(embedder.dim)
        self._lance: LanceIndex | None = None
        self._cached: tuple[tuple[int, int, int], ChunkSnapshot | None] | None = None

    # -- choosing the source ----------------------------------------------------------------------
    def lance(self) -> LanceIndex:
        """The real index (imports lancedb): for writes and whenever the snapshot is not current."""
        if self._lance is None:
            from knowledge.index import LanceIndex

            self._lance = LanceIndex(self.path, self.embedder, snapshot_file=self.snapshot_file)
            self._lance.publish_snapshot()  # the next command finds a current file
        return self._lance

    def snapshot(self) -> ChunkSnapshot | None:
        """The snapshot when the file matches SQL, the embedder and the table now; else None."""
        try:
            st = os.stat(self.snapshot_file.path)
        except OSError:
            return None
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._cached is None or self._cached[0] != stamp:  # parse the file once per version
            snap = current_snapshot(
                self.snapshot_file,
                self.path / TABLE_DIR,
                self.embedder.name,
                self.embedder.dim,
                self._sql_versions,
            )
            self._cached = (stamp, snap)
            return snap
        snap = self._cached[1]
        if snap is None or not self._still_current(snap):
            return None
        return snap

    def _still_current(self, snap: ChunkSnapshot) -> bool:
        """The parsed file still matches the table version and SQL (other processes may write)."""
        if lance_table_version(self.path / TABLE_DIR) != snap.version:
            return False
        return snap.article_versions() == self._sql_versions()

    # -- reading ----------------------------------------------------------------------------------
    def current_snapshot(self) -> ChunkSnapshot | None:
        """The in-memory copy of the current table (from the file, or LanceDB's)."""
        snap = self.snapshot()
        return snap if snap is not None else self.lance().current_snapshot()

    def compatible(self) -> bool:
        """False when the stored vectors have another dimension than the embedder."""
        return True if self.snapshot() is not None else self.lance().compatible()

    def count(self) -> int:
        """Number of chunks in the index."""
        snap = self.snapshot()
        return len(snap.rows) if snap is not None else self.lance().count()

    def article_versions(self) -> dict[int, int]:
        """Indexed version per article id, for drift detection against SQL."""
        return {aid: ver for aid, (ver, _) in self.article_state().items()}

    def article_state(self) -> dict[int, tuple[int, int]]:
        """(version, chunk count) per indexed article id."""
        snap = self.snapshot()
        return article_state(snap.rows) if snap is not None else self.lance().article_state()

    def article_vectors(self) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
        """(title vector, mean body vector or None) per article, for hygiene checks."""
        snap = self.snapshot()
        if snap is None:
            return self.lance().article_vectors()
        ids = [r["article_id"] for r in snap.rows]
        return article_vectors([r["chunk_id"] for r in snap.rows], ids, list(snap.vectors))

    def article_centroids(self) -> dict[int, np.ndarray]:
        """Unit mean of each article's chunk vectors, for the query adapter."""
        snap = self.snapshot()
        if snap is None:
            return self.lance().article_centroids()
        return article_centroids([r["article_id"] for r in snap.rows], list(snap.vectors))

    def chunks_of(self, article_id: int) -> list[dict[str, Any]]:
        """All chunks of one article (without vectors), ordered by chunk number."""
        snap = self.snapshot()
        return (
            snap.chunks_of(article_id) if snap is not None else self.lance().chunks_of(article_id)
        )

    def search_both(
        self, vector: np.ndarray, text: str, k: int = 50
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Vector and BM25 matches on one snapshot (LanceIndex.search_both's results)."""
        snap = self.snapshot() if k > 0 else None
        if snap is None:
            return self.lance().search_both(vector, text, k)
        return self._search.vector(snap, vector, k), self._search.text(snap, text, k)

    def search_vector(self, vector: np.ndarray, k: int = 50) -> list[dict[str, Any]]:
        """Nearest chunks by cosine; each row carries `cosine`."""
        snap = self.snapshot()
        if snap is None:
            return self.lance().search_vector(vector, k)
        return self._search.vector(snap, vector, k)

    def search_text(self, text: str, k: int = 50) -> list[dict[str, Any]]:
        """BM25 full-text matches (rows carry `bm25`)."""
        snap = self.snapshot()
        return (
            self._search.text(snap, text, k)
            if snap is not None
            else self.lance().search_text(text, k)
        )

    def rows_for(self, articles: Sequence[ArticleLike]) -> list[dict[str, Any]]:
        """Chunked, embedded rows for articles without writing them."""
        return self.lance().rows_for(articles)

    # -- writing: always the real index -----------------------------------------------------------
    def upsert_article(self, article: ArticleLike) -> int:
        """Replace all chunks of one article."""
        return self.lance().upsert_article(article)

    def upsert_articles(self, articles: Sequence[ArticleLike]) -> int:
        """Replace the chunks of several articles."""
        return self.lance().upsert_articles(articles)

    def remove_article(self, article_id: int) -> None:
        """Delete every chunk of an article."""
        self.lance().remove_article(article_id)

    def remove_articles(self, article_ids: Sequence[int]) -> None:
        """Delete every chunk of several articles."""
        self.lance().remove_articles(article_ids)

    def rebuild(
        self, articles: Sequence[ArticleLike], progress: Progress | None = None, batch: int = 64
    ) -> int:
        """Drop and recreate the table from the given (SQL) articles."""
        return self.lance().rebuild(articles, progress=progress, batch=batch)

    def discard(self) -> None:
        """Forget a damaged table entirely."""
        self.lance().discard()

    def optimize(self) -> None:
        """Compact the real table."""
        self.lance().optimize()


KnowledgeIndex: TypeAlias = "LanceIndex | ReadPathIndex"
