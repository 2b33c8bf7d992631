"""In-memory copy of the chunks table and its file in the home: search without importing LanceDB.

`ChunkSnapshot` is what LanceIndex searches when the table fits in memory (exact cosine + BM25).
The same copy is kept on disk (`SnapshotFile`, one .npz written atomically) so read-only commands
(`kb search`, `ask`) can search without importing lancedb/pyarrow. The file names what it was
made from: the (article id, version) pairs it holds, the embedder's name and dimension and the
LanceDB table version; a reader compares these with SQL and the table's newest manifest and uses
the file only when all agree.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.bm25 import Bm25, analyse

log = logging.getLogger(__name__)

COLUMNS = ("chunk_id", "article_id", "version", "title", "url", "topic", "text")
MAX_QUERY_TERMS = 64
FORMAT = 1  # bump when the file layout or the chunking that fills it changes
# Bigger tables get no file: 20k chunks are ~67 MB and ~0.6 s to write after every index write,
# ~0.8 s to read, no faster than opening LanceDB.
MAX_FILE_ROWS = 20_000
_WORD = re.compile(r"\w+", re.UNICODE)
_U64 = 2**64 - 1  # Lance's newer manifest names count down from u64::MAX


def fts_query(text: str, max_terms: int = MAX_QUERY_TERMS) -> str:
    """Reduce free text to plain word tokens so the full-text parser can never choke on it."""
    words = _WORD.findall(text[:20_000])
    return " ".join(w for w in words[:max_terms] if len(w) <= 40)


@dataclass
class ChunkSnapshot:
    """An in-memory copy of one table version: exact vector search and BM25 without LanceDB calls."""

    version: int
    rows: list[dict[str, Any]]
    vectors: np.ndarray
    _bm25: Bm25 | None = None
    terms: list[list[str]] | None = None  # BM25 terms per row (kept in the file: no stemming)

    def bm25(self, analysed: dict[str, list[str]]) -> Bm25:
        """The BM25 matrix of this version, built on first use; `analysed` caches terms by text."""
        if self._bm25 is None:
            if self.terms is None:
                terms = []
                for row in self.rows:
                    text = row["text"]
                    if text not in analysed:
                        analysed[text] = analyse(text)
                    terms.append(analysed[text])
                live = {row["text"] for row in self.rows}
                for stale in [t for t in analysed if t not in live]:
                    del analysed[stale]
                self.terms = terms
            self._bm25 = Bm25(self.terms)
        return self._bm25

    def nearest(self, vector: np.ndarray, k: int) -> list[dict[str, Any]]:
        """The k rows closest to a query vector by cosine (rows carry `cosine`), best first."""
        if not self.rows or k <= 0:
            return []
        norm = float(np.linalg.norm(vector)) or 1.0
        sims = self.vectors @ (vector / norm)
        top = np.argpartition(-sims, min(k, len(sims)) - 1)[:k] if len(sims) > k else None
        order = top[np.argsort(-sims[top])] if top is not None else np.argsort(-sims)
        return [{**self.rows[i], "cosine": float(sims[i])} for i in order]

    def matches(self, bm25: Bm25, query: str, k: int) -> list[dict[str, Any]]:
        """The k best BM25 rows for a sanitised query (rows carry `bm25`), best first."""
        return [{**self.rows[i], "bm25": score} for i, score in bm25.search(query, k)]

    def chunks_of(self, article_id: int) -> list[dict[str, Any]]:
        """All chunks of one article (without vectors), ordered by chunk number."""
        rows = [dict(r) for r in self.rows if r["article_id"] == int(article_id)]
        return sorted(rows, key=lambda r: int(r["chunk_id"].rsplit(":", 1)[1]))

    def article_versions(self) -> dict[int, int]:
        """Lowest indexed version per article id: what the file is keyed by."""
        return {aid: ver for aid, (ver, _) in article_state(self.rows).items()}


class SnapshotSearch:
    """Vector + BM25 search over snapshots, with BM25 terms cached across versions by chunk text."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._analysed: dict[str, list[str]] = {}  # chunk text -> BM25 terms
        self._lock = threading.Lock()  # guards _analysed; never held across index writes

    def usable(self, vector: np.ndarray) -> np.ndarray | None:
        """The query vector as float32, or None when it has the wrong size or is not finite."""
        vec = np.asarray(vector, dtype=np.float32).reshape(-1)
        return vec if vec.shape[0] == self.dim and bool(np.all(np.isfinite(vec))) else None

    def vector(self, snap: ChunkSnapshot, vector: np.ndarray, k: int) -> list[dict[str, Any]]:
        """Nearest chunks by cosine ([] for an unusable vector)."""
        vec = self.usable(vector)
        return snap.nearest(vec, k) if vec is not None and k > 0 else []

    def bm25(self, snap: ChunkSnapshot) -> Bm25:
        """The snapshot's BM25 postings (built once per snapshot, terms reused across versions)."""
        with self._lock:
            return snap.bm25(self._analysed)

    def text(self, snap: ChunkSnapshot, text: str, k: int) -> list[dict[str, Any]]:
        """BM25 matches of the sanitised text."""
        query = fts_query(text)
        if not query or k <= 0:
            return []
        return snap.matches(self.bm25(snap), query, k)


def article_state(rows: list[dict[str, Any]]) -> dict[int, tuple[int, int]]:
    """(version, chunk count) per article id; mixed versions report the lowest."""
    state: dict[int, tuple[int, int]] = {}
    for row in rows:
        aid, ver = row["article_id"], row["version"]
        old = state.get(aid)
        state[aid] = (ver, 1) if old is None else (min(old[0], ver), old[1] + 1)
    return state


def article_vectors(
    chunk_ids: list[str], article_ids: list[int], vectors: list[Any]
) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
    """(title vector, unit mean body vector or None) per article, for hygiene checks."""
    titles: dict[int, np.ndarray] = {}
    bodies: dict[int, list[np.ndarray]] = {}
    for cid, aid, vec in zip(chunk_ids, article_ids, vectors, strict=True):
        arr = np.asarray(vec, dtype=np.float32)
        if cid.endswith(":0"):
            titles[aid] = arr
        else:
            bodies.setdefault(aid, []).append(arr)
    out: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
    for aid, title_vec in titles.items():
        body = None
        if aid in bodies:
            body = np.mean(bodies[aid], axis=0)
            body /= np.linalg.norm(body) or 1.0
        out[aid] = (title_vec, body)
    return out


def article_centroids(article_ids: list[int], vectors: list[Any]) -> dict[int, np.ndarray]:
    """Unit mean of each article's chunk vectors (title and body), for the query adapter."""
    sums: dict[int, np.ndarray] = {}
    for aid, vec in zip(article_ids, vectors, strict=True):
        arr = np.asarray(vec, dtype=np.float32)
        sums[aid] = sums[aid] + arr if aid in sums else arr
    return {aid: total / (float(np.linalg.norm(total)) or 1.0) for aid, total in sums.items()}


def lance_table_version(table_dir: Path) -> int | None:
    """Newest version of a Lance table from its manifest names (None: absent or unreadable)."""
    try:
        names = os.listdir(table_dir / "_versions")
    except OSError:
        return None
    versions = [int(n[:-9]) for n in names if n.endswith(".manifest") and n[:-9].isdigit()]
    if not versions:
        return None
    # Version N is "N.manifest" (V1 naming) or "<u64::MAX - N>.manifest" (V2 naming).
    return max(_U64 - v if v > _U64 // 2 else v for v in versions)


class SnapshotDamaged(Exception):
    """The snapshot file exists but cannot be read back."""


@dataclass(frozen=True)
class SnapshotKey:
    """What a snapshot file was made from; the file is current only when all of it still holds."""

    articles: dict[int, int]  # article id -> version
    embedder: str
    dim: int
    index_version: int


class SnapshotFile:
    """The search snapshot kept in the home (one .npz), written atomically after index writes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def invalidate(self) -> None:
        """Remove the file before the index changes: a crash mid-write leaves no stale copy."""
        self.path.unlink(missing_ok=True)

    def save(self, snap: ChunkSnapshot, embedder: str, dim: int) -> None:
        """Write the snapshot and its key to a temporary file, fsync it, then rename it in place.

        `snap.terms` must be filled (SnapshotSearch.bm25 does it): readers skip the stemming.
        """
        if snap.terms is None or len(snap.terms) != len(snap.rows):
            raise ValueError("the snapshot's BM25 terms are not computed")
        meta = {
            "format": FORMAT,
            "embedder": embedder,
            "dim": dim,
            "index_version": snap.version,
            "articles": sorted(snap.article_versions().items()),
            "rows": [[row[c] for c in COLUMNS] for row in snap.rows],
            "terms": snap.terms,
        }
        blob = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8)
        vectors = np.ascontiguousarray(snap.vectors, dtype=np.float32).reshape(len(snap.rows), -1)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, meta=blob, vectors=vectors)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

    def load(self) -> tuple[SnapshotKey, ChunkSnapshot] | None:
        """The key and snapshot in the file; None when there is none, SnapshotDamaged when unreadable."""
        try:
            with np.load(self.path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                vectors = np.asarray(data["vectors"], dtype=np.float32)
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise SnapshotDamaged(f"{type(exc).__name__}: {exc}") from exc
        try:
            if meta["format"] != FORMAT:
                return None  # written by another Deskhand version: not damaged, just not ours
            rows = [dict(zip(COLUMNS, values, strict=True)) for values in meta["rows"]]
            terms = [[str(term) for term in row] for row in meta["terms"]]
            if vectors.ndim != 2 or vectors.shape != (len(rows), int(meta["dim"])):
                raise ValueError(f"vectors {vectors.shape} for {len(rows)} rows")
            if len(terms) != len(rows):
                raise ValueError(f"{len(terms)} term lists for {len(rows)} rows")
            key = SnapshotKey(
                articles={int(a): int(v) for a, v in meta["articles"]},
                embedder=str(meta["embedder"]),
                dim=int(meta["dim"]),
                index_version=int(meta["index_version"]),
            )
        except Exception as exc:
            raise SnapshotDamaged(f"{type(exc).__name__}: {exc}") from exc
        return key, ChunkSnapshot(key.index_version, rows, vectors, terms=terms)


def current_snapshot(
    file: SnapshotFile,
    table_dir: Path,
    embedder: str,
    dim: int,
    sql_versions: Callable[[], dict[int, int]],
) -> ChunkSnapshot | None:
    """The file's snapshot when it matches SQL, the embedder and the table; else None.

    A damaged file is one warning line and None (the caller falls back to LanceDB).
    """
    try:
        loaded = file.load()
    except SnapshotDamaged as exc:
        log.warning("search snapshot %s is damaged (%s); using the index", file.path, exc)
        return None
    if loaded is None:
        return None
    key, snap = loaded
    if (key.embedder, key.dim) != (embedder, dim):
        return None
    if lance_table_version(table_dir) != key.index_version:
        return None
    if key.articles != sql_versions():
        return None
    return snap
