"""`pip install deskhand` (make demo's runtime set) brings no PyTorch stack and no build-only tools (#14).

The set is read from the installed metadata, so a dependency added to pyproject.toml that drags one
of these in fails here. Sizes: `python -m bot.evaluation.venv_size` (README, Set up).
"""

from __future__ import annotations

from bot.evaluation.venv_size import distribution_sizes, runtime_closure

NOT_AT_RUN_TIME = {
    "torch",
    "transformers",
    "sentence-transformers",
    "tokenizers",  # knowledge/wordpiece.py
    "huggingface-hub",
    "hf-xet",
    "onnx",  # knowledge/onnx_proto.py
    "ml-dtypes",
    "scipy",
    "scikit-learn",
    "sympy",
    "networkx",
    "pandas",
    "matplotlib",  # the `charts` extra
    "pytest",
    "ruff",
    "mypy",
}


def test_runtime_set_has_no_pytorch_stack_or_build_only_packages() -> None:
    runtime = runtime_closure()
    assert {"deskhand", "lancedb", "onnxruntime", "langgraph", "sqlmodel"} <= runtime
    assert runtime & NOT_AT_RUN_TIME == set()


def test_sizes_come_from_the_record_files() -> None:
    sizes = distribution_sizes(["lancedb", "onnxruntime", "deskhand"])
    assert set(sizes) == {"lancedb", "onnxruntime", "deskhand"}
    assert sizes["lancedb"] > 50e6 and sizes["onnxruntime"] > 10e6
