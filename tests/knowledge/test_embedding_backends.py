"""ONNX Runtime and PyTorch must give the same vectors: indexes built by one are searched by the other.

The ONNX graph is built from the packaged safetensors without PyTorch; the comparison with the
PyTorch reference runs wherever the dev extras (torch, sentence-transformers) are installed.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

from knowledge import embeddings
from knowledge.embeddings import MiniLMEmbedder
from knowledge.minilm_onnx import OnnxMiniLM, exported_path

TEXTS = [
    "How do I reset my password?",
    "",
    "café naïve — 返金 🙂",
    "refund " * 400,  # longer than the model's 256 tokens: both must truncate the same way
    "Where is my parcel? It was due on Monday and nothing has arrived yet.",
]


@pytest.fixture(scope="module")
def torch_minilm() -> MiniLMEmbedder:
    pytest.importorskip("sentence_transformers", reason="the PyTorch reference is a dev extra")
    return MiniLMEmbedder(backend="torch")


def test_graph_built_from_safetensors_matches_pytorch(tmp_path, monkeypatch, torch_minilm):
    monkeypatch.setenv("DESKHAND_MODEL_CACHE", str(tmp_path / "models"))
    assert not exported_path().exists()
    onnx = MiniLMEmbedder(backend="onnx")
    assert onnx.backend == "onnx" and exported_path().exists()  # exported once, then reused
    batch, reference = onnx.embed(TEXTS), torch_minilm.embed(TEXTS)
    assert batch.shape == (len(TEXTS), 384) and batch.dtype == np.float32
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert (batch * reference).sum(axis=1).min() > 0.9999
    singles = np.vstack([onnx.embed([t]) for t in TEXTS])  # the 1-thread path pads nothing
    assert np.abs(singles - batch).max() < 1e-4


def test_single_queries_hit_the_cache(embedder):
    first = embedder.embed(["a question asked twice"])
    assert embedder.embed(["a question asked twice"]) is not first  # a copy of the row...
    assert np.array_equal(embedder.embed(["a question asked twice"]), first)  # ...same values


def test_auto_falls_back_to_pytorch_when_onnx_fails(monkeypatch, caplog):
    pytest.importorskip("sentence_transformers", reason="the fallback needs the torch extra")

    def broken(*_: object, **__: object) -> OnnxMiniLM:
        raise RuntimeError("no onnxruntime here")

    monkeypatch.setattr("knowledge.minilm_onnx.OnnxMiniLM", broken)
    with caplog.at_level(logging.WARNING):
        fallback = MiniLMEmbedder(backend="auto")
    assert fallback.backend == "torch"
    assert "no onnxruntime here" in caplog.text
    with pytest.raises(RuntimeError):
        MiniLMEmbedder(backend="onnx")  # asked for explicitly: fail loudly
    with pytest.raises(ValueError, match="unknown embedding backend"):
        MiniLMEmbedder(backend="tpu")


def test_embedder_names():
    assert embeddings.get_embedder("minilm").backend == "onnx"
    with pytest.raises(ValueError, match="minilm-torch"):
        embeddings.get_embedder("bert")


def test_a_damaged_cached_export_is_replaced(tmp_path, monkeypatch, embedder):
    monkeypatch.setenv("DESKHAND_MODEL_CACHE", str(tmp_path / "models"))
    path = exported_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an onnx model")  # e.g. a disk that filled up mid-write long ago
    repaired = MiniLMEmbedder(backend="onnx")
    assert path.stat().st_size > 1_000_000
    assert not list(path.parent.glob("*.partial"))
    vector = repaired.embed(["How do I reset my password?"])
    assert (vector * embedder.embed(["How do I reset my password?"])).sum() > 0.9999


def test_building_and_embedding_never_import_pytorch(tmp_path):
    """The runtime needs no torch/transformers/sentence-transformers, even on first use."""
    probe = (
        "import sys, json\n"
        "from knowledge.embeddings import MiniLMEmbedder\n"
        "v = MiniLMEmbedder(backend='onnx').embed(['How do I reset my password?'])\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
        "print(json.dumps({'heavy': heavy, 'norm': float((v * v).sum())}))\n"
    )
    env = {**os.environ, "DESKHAND_MODEL_CACHE": str(tmp_path / "models")}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [] and abs(result["norm"] - 1.0) < 1e-5
    assert len(list((tmp_path / "models").glob("*.onnx"))) == 1  # built once, cached


def test_read_safetensors_matches_the_reference_reader():
    """Our 20-line reader returns exactly what the `safetensors` package does."""
    reference = pytest.importorskip("safetensors.numpy", reason="safetensors is a dev extra")
    from knowledge.minilm_onnx import model_dir, read_safetensors

    ours = read_safetensors(model_dir() / "model.safetensors")
    theirs = reference.load_file(str(model_dir() / "model.safetensors"))
    assert ours.keys() == theirs.keys()
    for name, array in theirs.items():
        assert ours[name].dtype == array.dtype and np.array_equal(ours[name], array), name


def test_minilm_torch_without_pytorch_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if not installed
    with pytest.raises(embeddings.TorchMissingError, match=r"pip install 'deskhand\[torch\]'"):
        MiniLMEmbedder(backend="torch")
