"""Matching benchmark: c360 against Splink on the same data, in the same run; prints ratios c360/Splink.

    python bench/match/benchmark.py [--sets febrl3 febrl4 rldata10000 demo-100000 demo-1000000]
    python bench/match/benchmark.py --sets demo-5000000 --only c360   # the scale check: 10.4 M records
    python bench/match/benchmark.py --sets demo-5000000-rules --only c360   # the same, rules only

A set ``demo-N-rules`` is the demo set ``demo-N`` matched with the demo's rules alone (the probabilistic
model switched off): Customer Insights' own semantics, c360 only.

Each tool runs in its own process (Splink in bench/.venv-splink); wall time is measured by the runner from
reading the inputs to final clusters, with the tool loaded (Splink's clock starts after ``import splink``,
c360's once its local host is up with the function app loaded in its worker processes, as a deployed app
is when a file lands, and stops when the run's result is known, before the host shuts down), peak memory
is the peak RSS of the runner's process tree (c360's activities run in worker processes; sampled every
50 ms, never below the runner's own maximum RSS; c360 also reports the sum of each process's own peak as an
upper bound). c360 also reports when its clusters were known (``clusters_seconds``, the merge's end: Splink's
scope; the run goes on to the merged profiles and the lineage tables, and its time counts them). F1 is over
record pairs of the final clusters (transitive closure included); cluster F1 counts exactly recovered clusters.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
ROOT = BENCH.parent
PYTHONS = {"c360": ROOT / ".venv" / "bin" / "python", "splink": BENCH / ".venv-splink" / "bin" / "python"}
RUNNERS = {"c360": BENCH / "match" / "c360_runner.py", "splink": BENCH / "match" / "splink_runner.py"}
DATA = BENCH / "data"
TARGETS = {"febrl3": 0.997, "febrl4": 0.997, "rldata10000": 0.95, "demo-1000000": 0.995}


def ensure_splink() -> None:
    if not PYTHONS["splink"].exists():
        subprocess.run([str(BENCH / "setup-splink.sh")], check=True)


def ensure_data(sets: list[str]) -> None:
    if any(s in ("febrl3", "febrl4", "rldata10000") for s in sets) and not (DATA / "febrl3.parquet").exists():
        subprocess.run([str(PYTHONS["splink"]), str(BENCH / "match" / "prepare_data.py"), str(DATA)], check=True)
    for name in dict.fromkeys(s.removesuffix("-rules") for s in sets):
        if name.startswith("demo-") and not (DATA / name / "truth.csv").exists():
            people = int(name.split("-")[1])
            code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path; "
                    "from c360_cli.demo import DemoSpec, write_demo; "
                    f"write_demo(Path({str(DATA / name)!r}), DemoSpec(customers={people}, seed=11, "
                    f"activities={name.endswith('-orders')}))")  # orders and lines for the full-run bench
            started = time.perf_counter()
            subprocess.run([str(PYTHONS["c360"]), "-c", code], check=True)
            print(f"generated {name} in {time.perf_counter() - started:.0f} s")


def run(tool: str, dataset: str) -> dict[str, object]:
    args = [str(PYTHONS[tool]), str(RUNNERS[tool])]
    if dataset.startswith("demo-"):
        args += ["demo", str(DATA), "--demo-people", dataset.split("-")[1]]
        args += ["--rules-only"] if dataset.endswith("-rules") else []
    else:
        args += [dataset, str(DATA)]
    out = subprocess.run(args, capture_output=True, text=True, cwd=BENCH, check=False,
                         env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    if out.returncode != 0:
        return {"tool": tool, "dataset": dataset, "error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["dataset"] = dataset
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["febrl3", "febrl4", "rldata10000", "demo-100000"])
    parser.add_argument("--only", choices=list(RUNNERS), help="run one tool (a scale check beyond Splink's reach)")
    args = parser.parse_args()
    tools = [args.only] if args.only else ["c360", "splink"]
    if "splink" in tools:
        ensure_splink()
    ensure_data(args.sets)
    results = []
    header = (f"{'set':14s} {'tool':7s} {'precision':>9s} {'recall':>7s} {'F1':>7s} {'cluster F1':>10s} "
              f"{'seconds':>8s} {'peak MB':>8s}")
    print(header)
    for dataset in args.sets:
        pair = {}
        for tool in tools if not dataset.endswith("-rules") else ["c360"]:  # CI's rules are c360's alone
            result = run(tool, dataset)
            results.append(result)
            pair[tool] = result
            if "error" in result:
                print(f"{dataset:14s} {tool:7s} failed: {result['error']}")
                continue
            print(f"{dataset:14s} {tool:7s} {result['precision']:9.4f} {result['recall']:7.4f} {result['f1']:7.4f} "
                  f"{result['cluster_f1']:10.4f} {result['seconds']:8.1f} {result['peak_mb']:8.0f}", flush=True)
        c, s = pair.get("c360", {}), pair.get("splink", {})
        if "f1" in c and "f1" in s:
            target = TARGETS.get(dataset)
            verdict = "" if target is None else f"; target F1 >= {target}: {'met' if c['f1'] >= target else 'NOT met'}"
            clusters = "" if c.get("clusters_seconds") is None else \
                f" (to its clusters {c['clusters_seconds'] / s['seconds']:.2f})"
            print(f"{dataset:14s} ratio c360/Splink: F1 {c['f1'] / max(s['f1'], 1e-9):.3f}, "
                  f"time {c['seconds'] / s['seconds']:.2f}{clusters}, memory {c['peak_mb'] / s['peak_mb']:.2f}"
                  f"; Splink's best F1 over thresholds (with labels) {s.get('best_f1_with_labels', float('nan')):.4f}"
                  f"{verdict}", flush=True)
    write_results(results)


def write_results(results: list[dict]) -> None:
    """Merge this run's results into bench/results/match.json, replacing earlier rows of the same set and tool."""
    path = BENCH / "results" / "match.json"
    path.parent.mkdir(exist_ok=True)
    earlier = json.loads(path.read_text()) if path.exists() else []
    fresh = {(r["tool"], r["dataset"]) for r in results}
    kept = [r for r in earlier if (r.get("tool"), r.get("dataset")) not in fresh]
    merged = kept + results
    path.write_text(json.dumps(merged, indent=2))
    path.with_suffix(".md").write_text(markdown_table(merged))


def markdown_table(results: list[dict]) -> str:
    """The results as the Markdown table bench/README.md shows, one row per set, c360 beside Splink."""
    rows = ["| set | c360 P / R / F1 | cluster F1 | c360 s / MB | Splink P / R / F1 | Splink best F1 (labels) "
            "| Splink s / MB | ratio F1 / time / memory | c360 s to clusters (time ratio) |", "|" + " --- |" * 9]
    by_key = {(r.get("tool"), r.get("dataset")): r for r in results if "f1" in r}
    order = ["febrl3", "febrl4", "rldata10000", "demo-100000", "demo-1000000", "demo-5000000", "demo-1000000-rules",
             "demo-5000000-rules"]
    datasets = sorted((d for d in dict.fromkeys(r.get("dataset") for r in results) if d),
                      key=lambda d: order.index(d) if d in order else len(order))
    for d in datasets:
        c, s = by_key.get(("c360", d)), by_key.get(("splink", d))
        if not (c and s):
            continue
        rows.append(
            f"| {d} | {c['precision']:.4f} / {c['recall']:.4f} / **{c['f1']:.4f}** | {c['cluster_f1']:.4f} "
            f"| {c['seconds']:.1f} / {c['peak_mb']:,.0f} | {s['precision']:.4f} / {s['recall']:.4f} / {s['f1']:.4f} "
            f"| {s.get('best_f1_with_labels', float('nan')):.4f} | {s['seconds']:.1f} / {s['peak_mb']:,.0f} "
            f"| {c['f1'] / max(s['f1'], 1e-9):.3f} / {c['seconds'] / s['seconds']:.2f} / "
            f"{c['peak_mb'] / s['peak_mb']:.2f} | {_to_clusters(c, s)} |")
    rows += ["", "c360's largest activity, per step (MB of one worker process running it; an activity instance of",
             "Flex Consumption has 2,048 or 4,096 MB):", "",
             "| set | " + " | ".join(STEPS) + " |", "|" + " --- |" * (len(STEPS) + 1)]
    for d in datasets:
        c = by_key.get(("c360", d))
        if c and c.get("activity_peak_mb"):
            peaks = c["activity_peak_mb"]
            rows.append(f"| {d} | " + " | ".join(
                f"{peaks[s]:,.0f}" if peaks.get(s) is not None else "–" for s in STEPS) + " |")
    timed = [d for d in datasets if by_key.get(("c360", d), {}).get("activity_seconds")]
    if timed:  # measured since the block rows were written in slices
        rows += ["", "c360's longest activity, per step (seconds; the step's time with an instance per activity of",
                 "its fan-out):", "", "| set | " + " | ".join(STEPS) + " |", "|" + " --- |" * (len(STEPS) + 1)]
        for d in timed:
            seconds = by_key[("c360", d)]["activity_seconds"]
            rows.append(f"| {d} | " + " | ".join(
                f"{seconds[s]:,.1f}" if seconds.get(s) is not None else "–" for s in STEPS) + " |")
    return "\n".join(rows) + "\n"


def _to_clusters(c360: dict, splink: dict) -> str:
    seconds = c360.get("clusters_seconds")
    return "–" if seconds is None else f"{seconds:.1f} ({seconds / splink['seconds']:.2f})"


STEPS = ["convert_source_file", "apply_source_changes", "plan_match_partitions", "write_features",
         "train_match_model", "count_block_keys", "write_block_rows", "match_partition", "merge_clusters",
         "write_customer_shard", "write_lineage_table"]


if __name__ == "__main__":
    main()
