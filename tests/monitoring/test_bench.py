"""The monitoring benchmark at toy size: every stage runs and every range query uses an index."""

from __future__ import annotations

from bot.monitoring.bench import main, run


def test_small_bench_reports_each_stage_and_indexed_plans(tmp_path) -> None:
    report = run(3000, f"sqlite:///{tmp_path / 'b.sqlite'}")
    assert report["decisions"] >= 2000
    stages = [s["stage"] for s in report["stages"]]
    assert stages[0] == "fill (simulate)" and "all detectors (every check_minutes)" in stages
    assert all(s["seconds"] >= 0 and s["peak_rss_mb"] > 0 for s in report["stages"])
    assert report["all_indexed"], report["query_plans"]
    assert main(["--decisions", "10"]) == 2
