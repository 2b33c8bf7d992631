"""Read-only commands start light: what they import, not how long they take (#14).

`--help`, `kb list` and `scope list` must not load the graph, the index or the models; `kb search`
and `ask` read the search snapshot in the home and must not load LanceDB or PyArrow while it is
current. Start-up figures are in the README (Command line).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INDEX = ("lancedb", "pyarrow")
HEAVY = (
    "langgraph",
    "langchain_core",
    "lancedb",
    "pyarrow",
    "onnxruntime",
    "numpy",
    "graph.builder",
)
PROBE = """
import json, sys
args, heavy, result = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
from bot.cli import main
sys.argv = ["deskhand", *args]
try:
    code = main()
except SystemExit as stop:
    code = stop.code
loaded = sorted({m for m in sys.modules for h in heavy if m == h or m.startswith(h + ".")})
with open(result, "w") as out:
    json.dump({"code": code, "loaded": loaded}, out)
"""


@pytest.fixture(scope="module")
def home(sample_template: Path, tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("startup") / "home"
    shutil.copytree(sample_template, copy)
    return copy


def _modules_after(home: Path, tmp_path: Path, *args: str, heavy=HEAVY) -> dict:
    env = {**os.environ, "DESKHAND_HOME": str(home), "COLUMNS": "200"}
    env.pop("DESKHAND_DATABASE_URL", None)
    result = tmp_path / "loaded.json"
    probe = [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(heavy), str(result)]
    done = subprocess.run(probe, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return {**json.loads(result.read_text()), "stderr": done.stderr}


@pytest.mark.parametrize(
    "args", [("--help",), ("kb", "list"), ("kb", "list", "--json"), ("scope", "list")]
)
def test_read_only_commands_load_no_graph_index_or_models(home, tmp_path, args) -> None:
    outcome = _modules_after(home, tmp_path, *args)
    assert outcome["code"] in (0, None)
    assert outcome["loaded"] == []


@pytest.mark.parametrize(
    ("args", "heavy"),
    [
        (("kb", "search", "reset password"), (*INDEX, "sqlalchemy", "sqlmodel", "langgraph")),
        (("ask", "how do I reset my password"), INDEX),
    ],
)
def test_search_and_ask_read_the_snapshot_without_lancedb(home, tmp_path, args, heavy) -> None:
    assert (home / "search-snapshot.npz").exists()  # written when the sample was indexed
    outcome = _modules_after(home, tmp_path, *args, heavy=heavy)
    assert outcome["code"] in (0, None)
    assert outcome["loaded"] == []


def test_a_damaged_snapshot_is_one_line_then_lancedb_answers_and_rewrites_it(
    sample_template: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(sample_template, home)
    (home / "search-snapshot.npz").write_bytes(b"\x00garbage")
    outcome = _modules_after(home, tmp_path, "kb", "search", "reset password", heavy=INDEX)
    assert outcome["code"] in (0, None) and "lancedb" in outcome["loaded"]
    assert "Traceback" not in outcome["stderr"]
    lines = outcome["stderr"].strip().splitlines()
    assert len(lines) == 1 and "search snapshot" in lines[0] and "damaged" in lines[0]
    again = _modules_after(home, tmp_path, "kb", "search", "reset password", heavy=INDEX)
    assert again["loaded"] == [] and again["stderr"].strip() == ""
