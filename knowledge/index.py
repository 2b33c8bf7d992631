"""LanceDB mirror of the articles: chunk vectors plus a full-text index, rebuilt from SQL at will."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import FTS

from knowledge.chunking import chunk_article
from knowledge.contracts import Embedder
from knowledge.snapshot import (
    COLUMNS,
    MAX_FILE_ROWS,
    MAX_QUERY_TERMS,
    ChunkSnapshot,
    SnapshotFile,
    SnapshotSearch,
    article_centroids,
    article_state,
    article_vectors,
    fts_query,
)

log = logging.getLogger(__name__)

TABLE = "chunks"
_COLUMNS = list(COLUMNS)
__all__ = ["MAX_QUERY_TERMS", "TABLE", "ArticleLike", "LanceIndex", "fts_query"]
Progress = Callable[[int, int], None]


class ArticleLike(Protocol):
    """What the index needs from an article (knowledge.models.Article satisfies it)."""

    id: int | None
    version: int
    title: str
    body: str
    url: str
    topic: str


class LanceIndex:
    """Embedded LanceDB table "chunks" under `path`; SQL stays the truth, this is a rebuildable mirror."""

    def __init__(
        self,
        path: Path | str,
        embedder: Embedder,
        read_consistency: timedelta | None = timedelta(seconds=1),
        optimize_every: int = 32,
        cache_max_rows: int = 200_000,
        snapshot_file: SnapshotFile | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.embedder = embedder
        self._db = lancedb.connect(str(self.path), read_consistency_interval=read_consistency)
        self._lock = threading.RLock()
        self._table: Any = None
        self._writes_since_optimize = 0
        self._rows_since_optimize = 0
        self._optimize_every = optimize_every
        self._cache_max_rows = cache_max_rows
        self._snap: ChunkSnapshot | None = None
        self._search = SnapshotSearch(embedder.dim)
        self.snapshot_file = snapshot_file  # kept current for read-only commands
        self._writing = 0  # nesting depth of _write() in this thread (under _lock)
        self.snapshot_max_rows = MAX_FILE_ROWS

    # -- the snapshot file ------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[None]:
        """Hold the write lock; the outermost write drops the snapshot file first, rewrites it after."""
        with self._lock:
            self._writing += 1
            try:
                if self._writing == 1 and self.snapshot_file is not None:
                    self.snapshot_file.invalidate()  # a crash mid-write must not leave a stale file
                yield
            finally:
                self._writing -= 1
            if self._writing == 0:
                self._publish()

    def publish_snapshot(self) -> None:
        """Write the snapshot file now (a reader found it missing or stale)."""
        with self._lock:
            self._publish()

    def _publish(self) -> None:
        """Write the current table to the snapshot file (none for a table too big to hold)."""
        if self.snapshot_file is None:
            return
        try:
            snap = self.current_snapshot()
            if snap is None or len(snap.rows) > self.snapshot_max_rows:  # readers use LanceDB
                self.snapshot_file.invalidate()
            else:
                self._search.bm25(snap)  # fills snap.terms (the next search needs them anyway)
                self.snapshot_file.save(snap, self.embedder.name, self.embedder.dim)
        except Exception as exc:  # read-only commands fall back to LanceDB: never fail a write
            log.warning("could not write the search snapshot: %s", str(exc).splitlines()[0])
            self.snapshot_file.invalidate()

    # -- table handling -------------------------------------------------------------------------
    def schema(self) -> pa.Schema:
        """Arrow schema of the chunks table for the current embedder's dimension."""
        return pa.schema(
            [
                ("chunk_id", pa.string()),
                ("article_id", pa.int64()),
                ("version", pa.int64()),
                ("title", pa.string()),
                ("url", pa.string()),
                ("topic", pa.string()),
                ("text", pa.string()),
                ("vector", pa.list_(pa.float32(), self.embedder.dim)),
            ]
        )

    def _open(self) -> Any:
        """The chunks table, or None when it has not been created yet."""
        if self._table is None:
            try:
                self._table = self._db.open_table(TABLE)
            except (FileNotFoundError, ValueError):
                return None
        return self._table

    def _create(self) -> Any:
        """Create (or replace) an empty chunks table with its full-text index."""
        self._table = self._db.create_table(TABLE, schema=self.schema(), mode="overwrite")
        self._create_fts()
        return self._table

    def discard(self) -> None:
        """Forget a damaged table entirely (files included) so it can be created afresh."""
        with self._write():
            self._table = None
            self._snap = None
            try:
                self._db.drop_table(TABLE)
            except Exception:  # a table too damaged to drop is removed from disk
                shutil.rmtree(self.path / f"{TABLE}.lance", ignore_errors=True)

    def _create_fts(self) -> None:
        """(Re)build the inverted index; stop words stay because short questions need them."""
        self._table.create_index(
            "text", config=FTS(remove_stop_words=False, stem=True), replace=True
        )

    def _writable(self) -> Any:
        table = self._open()
        return table if table is not None else self._create()

    def compatible(self) -> bool:
        """False when the stored vectors have another dimension than the embedder (needs rebuild)."""
        table = self._open()
        if table is None:
            return True
        return bool(table.schema.field("vector").type == self.schema().field("vector").type)

    # -- writing ----------------------------------------------------------------------------------
    def _rows(self, articles: Sequence[ArticleLike]) -> list[dict[str, Any]]:
        """Chunk and batch-embed articles into table rows."""
        rows: list[dict[str, Any]] = []
        for art in articles:
            if art.id is None:
                raise ValueError("article must be saved (have an id) before indexing")
            for chunk in chunk_article(art.id, art.version, art.title, art.body):
                rows.append(
                    {
                        "chunk_id": chunk.chunk_id,
                        "article_id": art.id,
                        "version": art.version,
                        "title": art.title,
                        "url": art.url or "",
                        "topic": art.topic or "",
                        "text": chunk.text,
                    }
                )
        if rows:
            vectors = self.embedder.embed([r["text"] for r in rows])
            for row, vec in zip(rows, vectors, strict=True):
                row["vector"] = np.asarray(vec, dtype=np.float32)
        return rows

    def rows_for(self, articles: Sequence[ArticleLike]) -> list[dict[str, Any]]:
        """Chunked, embedded rows for articles without writing them (draft views keep them aside)."""
        return self._rows(articles)

    def upsert_article(self, article: ArticleLike) -> int:
        """Replace all chunks of one article; returns the number of chunks written."""
        return self.upsert_articles([article])

    def upsert_articles(self, articles: Sequence[ArticleLike]) -> int:
        """Replace the chunks of several articles with one delete and one batch-embedded add."""
        if not articles:
            return 0
        rows = self._rows(articles)
        with self._write():
            table = self._writable()
            table.delete(_in_clause([a.id for a in articles if a.id is not None]))
            if rows:
                table.add(rows)
            self._after_write(len(rows))
        return len(rows)

    def remove_article(self, article_id: int) -> None:
        """Delete every chunk of an article (no-op when absent)."""
        self.remove_articles([article_id])

    def remove_articles(self, article_ids: Iterable[int]) -> None:
        """Delete every chunk of several articles."""
        ids = list(article_ids)
        if not ids:
            return
        with self._write():
            table = self._open()
            if table is None or not ids:
                return
            table.delete(_in_clause(ids))
            self._after_write()

    def rebuild(
        self, articles: Sequence[ArticleLike], progress: Progress | None = None, batch: int = 64
    ) -> int:
        """Drop and recreate the table from the given (SQL) articles; returns chunks written."""
        total = len(articles)
        written = 0
        with self._write():
            self._table = None
            try:
                table = self._create()
            except Exception as exc:  # a damaged table cannot even be overwritten
                log.warning("replacing the damaged index table: %s", str(exc).splitlines()[0])
                self.discard()
                table = self._create()
            if progress:
                progress(0, total)
            for start in range(0, total, batch):
                part = articles[start : start + batch]
                rows = self._rows(part)
                if rows:
                    table.add(rows)
                written += len(rows)
                if progress:
                    progress(min(start + batch, total), total)
            self._create_fts()
            self._writes_since_optimize = self._rows_since_optimize = 0
        return written

    def _after_write(self, rows: int = 0) -> None:
        """Fold new rows into the indexes now and then (unindexed rows are still searched)."""
        self._writes_since_optimize += 1
        self._rows_since_optimize += rows
        if self._writes_since_optimize >= self._optimize_every or self._rows_since_optimize >= 64:
            self.optimize()

    def optimize(self) -> None:
        """Compact fragments, index new rows and drop table versions older than a day."""
        with self._write():
            table = self._open()
            if table is None:
                return
            try:
                table.optimize(cleanup_older_than=timedelta(days=1))
            except Exception:  # pragma: no cover - best effort housekeeping
                log.warning("lance optimize failed; rebuilding the full-text index", exc_info=True)
                self._create_fts()
            self._writes_since_optimize = self._rows_since_optimize = 0

    # -- reading ----------------------------------------------------------------------------------
    def count(self) -> int:
        """Number of chunks in the index (0 when the table does not exist)."""
        table = self._open()
        return 0 if table is None else int(table.count_rows())

    def article_versions(self) -> dict[int, int]:
        """Indexed version per article id, for drift detection against SQL."""
        return {aid: ver for aid, (ver, _) in self.article_state().items()}

    def article_state(self) -> dict[int, tuple[int, int]]:
        """(version, chunk count) per indexed article id; mixed versions report the lowest."""
        table = self._open()
        if table is None:
            return {}
        data = table.to_arrow().select(["article_id", "version"]).to_pylist()
        return article_state(data)

    def article_vectors(self) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
        """(title vector, mean body vector or None) per article, for hygiene checks."""
        table = self._open()
        if table is None:
            return {}
        data = table.to_arrow().select(["chunk_id", "article_id", "vector"]).to_pydict()
        return article_vectors(data["chunk_id"], data["article_id"], data["vector"])

    def article_centroids(self) -> dict[int, np.ndarray]:
        """Unit mean of each article's chunk vectors (title and body), for the query adapter."""
        table = self._open()
        if table is None:
            return {}
        data = table.to_arrow().select(["article_id", "vector"]).to_pydict()
        return article_centroids(data["article_id"], data["vector"])

    def current_snapshot(self) -> ChunkSnapshot | None:
        """The in-memory copy of the current table (None: no table yet, or too big to hold)."""
        table = self._open()
        return None if table is None else self._snapshot(table)

    def _snapshot(self, table: Any) -> ChunkSnapshot | None:
        """The cached copy of the current table version (None when the table is too big)."""
        version = table.version
        snap = self._snap
        if snap is None or snap.version != version:
            if table.count_rows() > self._cache_max_rows:
                self._snap = None
                return None
            snap = self._snap = _load_snapshot(table, version)
        return snap

    def chunks_of(self, article_id: int) -> list[dict[str, Any]]:
        """All chunks of one article (without vectors), ordered by chunk number."""
        table = self._open()
        if table is None:
            return []
        rows = (
            table.search()
            .where(f"article_id = {int(article_id)}")
            .select(_COLUMNS)
            .limit(10_000)
            .to_list()
        )
        return sorted(rows, key=lambda r: int(r["chunk_id"].rsplit(":", 1)[1]))

    def search_both(
        self, vector: np.ndarray, text: str, k: int = 50
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """search_vector and search_text on one table version: one version check per question.

        Reading the table version is a round trip through LanceDB's event-loop thread; a
        question used to pay it twice.
        """
        table = self._open()
        snap = self._snapshot(table) if table is not None and k > 0 else None
        if snap is None:
            return self.search_vector(vector, k), self.search_text(text, k)
        return self._search.vector(snap, vector, k), self._search.text(snap, text, k)

    def search_vector(self, vector: np.ndarray, k: int = 50) -> list[dict[str, Any]]:
        """Nearest chunks by cosine; each row carries `cosine` in [-1, 1]."""
        table = self._open()
        if table is None or k <= 0:
            return []
        vec = self._search.usable(vector)
        if vec is None:
            return []
        snap = self._snapshot(table)
        if snap is not None:
            return snap.nearest(vec, k)
        rows: list[dict[str, Any]] = (
            table.search(vec, vector_column_name="vector")
            .distance_type("cosine")
            .select([*_COLUMNS, "_distance"])
            .limit(k)
            .to_list()
        )
        for row in rows:
            row["cosine"] = 1.0 - float(row.pop("_distance"))
        return rows

    def search_text(self, text: str, k: int = 50) -> list[dict[str, Any]]:
        """BM25 full-text matches (rows carry `bm25`); any input is sanitised, never raises on it."""
        table = self._open()
        query = fts_query(text)
        if table is None or not query or k <= 0:
            return []
        snap = self._snapshot(table)
        if snap is not None:  # in memory: same scores as the LanceDB index, ~10x faster
            return self._search.text(snap, text, k)
        try:
            found: list[dict[str, Any]] = (
                table.search(query, query_type="fts", fts_columns="text")
                .select([*_COLUMNS, "_score"])
                .limit(k)
                .to_arrow()
                .to_pylist()
            )
        except Exception as exc:  # missing FTS index after an external write: heal once
            if "INVERTED index" not in str(exc):
                raise
            with self._write():
                self._create_fts()
            return self.search_text(text, k)
        for row in found:
            row["bm25"] = float(row.pop("_score"))
        return found


def _load_snapshot(table: Any, version: int) -> ChunkSnapshot:
    """Copy one table version into memory (rows without vectors, vectors as one float32 matrix)."""
    data = table.to_arrow()
    meta = data.select(_COLUMNS).to_pylist()
    vectors = np.asarray(data.column("vector").combine_chunks().flatten(), dtype=np.float32)
    vectors = vectors.reshape(len(meta), -1) if meta else np.zeros((0, 1), np.float32)
    return ChunkSnapshot(version, meta, vectors)


def _in_clause(ids: Iterable[int]) -> str:
    """SQL filter selecting the given article ids (ints only, so no injection)."""
    return f"article_id IN ({', '.join(str(int(i)) for i in ids)})"
