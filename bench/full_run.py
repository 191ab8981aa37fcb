"""The deployed full path at scale, twice: a first run, then a rerun on the same files (the daily case:
it reads the published crosswalk and the published history). Per step: its activities, their summed
seconds, its span, and the largest activity's peak memory against a 2,048 MB Flex Consumption instance.

    python bench/full_run.py --customers 5000000    # make -C bench full-5m: 10.4 M records, about 70 minutes
    python bench/full_run.py --customers 100000     # a quick look
    python bench/full_run.py --customers 5000000 --orders --first-only   # make -C bench full-5m-orders

The lake is the local one, the app runs in the local host (`c360 run`, one worker process per core), with
the matching benchmark's data and config (``demo-N``: no orders, so enrichment has only profiles to read;
with ``--orders``, ``demo-N-orders``: the same people with their orders and order lines, so lifetime value,
churn and brand affinity have their inputs). Results go to ``results/full-run-<N>[-orders].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH / "match"))
INSTANCE_MB = 2048


def steps_of(lake: Path) -> tuple[str, str, dict, list[dict]]:
    """(run id, status, key numbers, step records) of the lake's latest run."""
    run_id = sorted(p.name for p in (lake / "system" / "runs").iterdir())[-1]
    folder = lake / "system" / "runs" / run_id
    run = json.loads((folder / "run.json").read_text())
    records = [json.loads(p.read_text()) for p in sorted((folder / "steps").glob("*.json"))]
    return run_id, run.get("status", "?"), run.get("key_numbers") or {}, records


def summary(records: list[dict]) -> list[dict]:
    from c360_runner import step_summary

    spans = step_summary(records)
    out = []
    for step, span in spans.items():
        peaks = [(r["peak_mb"], r.get("key") or "") for r in records
                 if r["step"] == step and r.get("peak_mb") is not None]
        failed = sum(1 for r in records if r["step"] == step and r.get("status") == "Failed")
        peak, key = max(peaks) if peaks else (None, "")
        out.append({"step": step, **span, "peak_mb": peak, "largest": key, "failed": failed})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=5_000_000)
    parser.add_argument("--keep", type=Path, help="a folder to keep the lake in")
    parser.add_argument("--orders", action="store_true", help="the people's orders and lines too")
    parser.add_argument("--first-only", action="store_true", help="the first run alone, no rerun")
    args = parser.parse_args()
    from benchmark import DATA, ensure_data

    from c360_cli.demo.benchmark_config import probabilistic_demo_config
    from c360_cli.demo.config import DEMO_CONFIG

    name = f"demo-{args.customers}" + ("-orders" if args.orders else "")
    ensure_data([name])
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "C360_MATCH_PARTITION_RECORDS": "400000"}  # as the matching benchmark
    c360 = str(ROOT / ".venv" / "bin" / "c360")
    runs = []
    with tempfile.TemporaryDirectory(prefix="c360-full-") as tmp:
        lake = args.keep or Path(tmp) / "lake"
        config = Path(tmp) / "c360.yaml"
        config.write_text(probabilistic_demo_config(DEMO_CONFIG))
        for label, extra in [("first run", ["--config", str(config), "--landing", str(DATA / name / "landing")]),
                             ("rerun", [])][:1 if args.first_only else 2]:
            started = time.perf_counter()
            done = subprocess.run([c360, "run", "--lake", str(lake), "--mode", "full", "--quiet", "0", *extra],
                                  env=env, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - started
            run_id, status, numbers, records = steps_of(lake)
            steps = summary(records)
            runs.append({"run": label, "run_id": run_id, "status": status, "exit_code": done.returncode,
                         "seconds": round(seconds, 1), "key_numbers": numbers, "steps": steps})
            print(f"\n{label}: {status} in {seconds:.1f} s (exit {done.returncode})")
            print(", ".join(f"{k} {v:,}" for k, v in numbers.items() if isinstance(v, int)))
            print(f"{'step':24s} {'activities':>10s} {'seconds':>8s} {'span s':>7s} {'peak MB':>8s} {'/2048':>6s}")
            for s in steps:
                peak = s["peak_mb"]
                ratio = f"{peak / INSTANCE_MB:6.2f}" if peak else "     -"
                note = (f"  {s['largest']}" if s["activities"] > 1 and s["largest"] else "") + (
                    f"  {s['failed']} failed" if s["failed"] else "")
                print(f"{s['step']:24s} {s['activities']:10.0f} {s['seconds']:8.1f} {s['span_seconds']:7.1f} "
                      f"{peak or 0:8.0f} {ratio}{note}")
            if done.returncode != 0:
                print(done.stdout[-2000:], done.stderr[-2000:], sep="\n")
                break
    largest = max((s["peak_mb"] or 0, s["step"], r["run"]) for r in runs for s in r["steps"])
    print(f"\nlargest activity: {largest[1]} ({largest[2]}) {largest[0]:.0f} MB = "
          f"{largest[0] / INSTANCE_MB:.2f} of a {INSTANCE_MB} MB instance")
    out = BENCH / "results" / f"full-run-{name.removeprefix('demo-')}.json"
    out.write_text(json.dumps({"customers": args.customers, "orders": args.orders, "runs": runs}, indent=1) + "\n")
    print(f"written {out.relative_to(ROOT)}")
    if any(r["exit_code"] != 0 for r in runs):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
