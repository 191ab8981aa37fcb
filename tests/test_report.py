"""Report figures that carry over between runs: each source's latest landed file and its age."""

from __future__ import annotations

from typing import Any

from shared.report.figures import freshness
from shared.report.html import STALE_DAYS, render


def _figures(started: str) -> dict[str, Any]:
    return {"run": {"run_id": "r2", "status": "Completed", "started": started}, "key_numbers": {},
            "sources": {"crm": {"files": 1, "landed": 3}}, "unification": {}, "enrichment": {},
            "timings": {"steps": {}}}


def test_a_source_without_new_files_keeps_its_latest_file_and_a_stopped_feed_is_called_out() -> None:
    """The POS feed landed nothing this run: its latest file is the one the previous report knew, 10 days
    before this run started, and the page says the feed may have stopped."""
    figures = _figures("2026-11-30T06:00:00+00:00")
    previous = {"sources": {"pos": {"latest_file": "2026-11-20T06:00:00+00:00"},
                            "crm": {"latest_file": "2026-11-28T06:00:00+00:00"}}}
    files = [{"table": "crm", "last_modified": "2026-11-30T05:00:00+00:00"},
             {"table": "crm", "last_modified": "2026-11-29T05:00:00+00:00"}]
    freshness(figures, files, previous)
    assert figures["sources"]["crm"]["latest_file"] == "2026-11-30T05:00:00+00:00"
    assert figures["sources"]["crm"]["latest_file_age_days"] == 0.0
    assert figures["sources"]["pos"] == {"latest_file": "2026-11-20T06:00:00+00:00", "latest_file_age_days": 10.0}
    page = render(figures, {})
    assert f"no new file for {STALE_DAYS} days or more: pos" in page
    assert "2026-11-20 06:00 (10 d)" in page and "2026-11-30 05:00 (0 d)" in page
    fresh = _figures("2026-11-30T06:00:00+00:00")
    freshness(fresh, files, None)  # the first run: what it landed
    assert "no new file for" not in render(fresh, {})
