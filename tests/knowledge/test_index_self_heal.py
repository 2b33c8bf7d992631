"""SQL is the truth: a damaged or missing LanceDB table is rebuilt from it at start-up."""

from __future__ import annotations

import logging
import shutil

from bot.app import Deskhand
from bot.cli import main
from bot.config import Config


def reopen(home, embedder) -> Deskhand:
    return Deskhand(Config(home=str(home)), embedder=embedder)


def truncate_biggest_data_file(home) -> None:
    files = sorted((home / "lancedb" / "chunks.lance" / "data").glob("*.lance"),
                   key=lambda p: p.stat().st_size)  # fmt: skip
    with open(files[-1], "r+b") as handle:
        handle.truncate(files[-1].stat().st_size // 2)


def test_a_truncated_data_file_is_rebuilt_from_sql_at_start_up(app, embedder, caplog):
    home, chunks = app.config.home_path, app.index.count()
    app.engine.dispose()
    truncate_biggest_data_file(home)
    with caplog.at_level(logging.INFO, logger="knowledge"):
        healed = reopen(home, embedder)
    assert healed.repair_report["rebuilt"] == 1
    assert healed.index.count() == chunks
    damaged = [r for r in caplog.records if "damaged" in r.getMessage()]
    assert len(damaged) == 1 and "rebuilding it from SQL" in damaged[0].getMessage()
    assert healed.kb.search("how do I reset my password", k=1)[0].title == "Reset your password"
    assert reopen(home, embedder).repair_report["rebuilt"] == 0  # healthy from now on


def test_a_missing_table_is_rebuilt_and_kb_reindex_works(app, embedder, capsys, monkeypatch):
    home, chunks, articles = app.config.home_path, app.index.count(), len(app.kb.list())
    app.engine.dispose()
    shutil.rmtree(home / "lancedb" / "chunks.lance")
    healed = reopen(home, embedder)
    assert healed.repair_report["missing"] == articles and healed.index.count() == chunks
    truncate_biggest_data_file(home)
    monkeypatch.setenv("DESKHAND_HOME", str(home))
    assert main(["kb", "reindex"]) == 0  # start-up heals, then the reindex runs cleanly
    assert "lance error" not in capsys.readouterr().err
