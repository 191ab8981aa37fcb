"""Run c360's matching on a benchmark set through the deployed code path (local host, match-only run).

Usage (one process per measurement; prints one JSON line):
    python bench/match/c360_runner.py DATASET DATA_DIR [--demo-people N] [--rules-only]

``--rules-only``: the demo config with the probabilistic model switched off, Customer Insights' rules alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

FEBRL_COLUMNS = """
      given_name: Person.FirstName
      surname: Person.LastName
      street_number: {data_type: string, as: StreetNumber}
      address_1: Location.Address
      address_2: {data_type: string, as: Address2}
      suburb: Location.City
      postcode: Location.PostalCode
      state: Location.State
      date_of_birth: {data_type: string, as: DateOfBirth}
      soc_sec_id: Identity.GovernmentID
"""
FEBRL_MODEL = """
    comparisons:
      - {field: FirstName, kind: name, term_frequency: true}
      - {field: LastName, kind: name, term_frequency: true}
      - {field: DateOfBirth, kind: date}
      - {field: GovernmentId, kind: identifier}
      - {field: StreetNumber, kind: exact, term_frequency: true}
      - {field: PostalCode, kind: postal_code, term_frequency: true}
      - {field: Street, kind: address}
      - {field: City, kind: string, term_frequency: true}
    blocking: [[GovernmentId], [FirstName, LastName], [DateOfBirth], [PostalCode], [Street, StreetNumber]]
"""


def febrl_config(names: list[str], link_only: bool) -> str:
    sources = "".join(f"""
  - name: {name}
    data_source: FEBRL
    table: {name}
    landing: {name}
    format: parquet
    primary_key: rec_id
    columns:{FEBRL_COLUMNS}""" for name in names)
    extra = "\n    link_only: true\n    one_to_one: true" if link_only else ""
    return f"""version: 1
sources:{sources}
unification:
  match_order: [{', '.join(names)}]
  probabilistic:
    enabled: true
    threshold: {THRESHOLD}{extra}{FEBRL_MODEL}"""


THRESHOLD = os.environ.get("BENCH_THRESHOLD", "0.5")
RLDATA_CONFIG = """version: 1
sources:
  - name: rldata
    data_source: RL
    table: People
    landing: rldata
    format: parquet
    primary_key: rec_id
    columns:
      fname_c1: Person.FirstName
      fname_c2: {data_type: string, as: FirstName2}
      lname_c1: Person.LastName
      lname_c2: {data_type: string, as: LastName2}
      birth_date: {data_type: string, as: DateOfBirth}
unification:
  match_order: [rldata]
  probabilistic:
    enabled: true
    threshold: THRESHOLD
    comparisons:
      - {field: FirstName, kind: name, term_frequency: true}
      - {field: LastName, kind: name, term_frequency: true}
      - {field: DateOfBirth, kind: date}
      - {field: FirstName2, kind: name}
      - {field: LastName2, kind: name}
    blocking: [[FirstName], [LastName], [DateOfBirth]]
"""


def land(lake_root: Path, dataset: str, data: Path, demo_people: int | None) -> tuple[str, dict[str, str]]:
    """Put the dataset in the lake's landing zone; returns (config text, record id → truth)."""
    import pandas as pd

    from c360_cli.demo.config import DEMO_CONFIG

    truth: dict[str, str] = {}
    if dataset.startswith("demo"):
        from c360_cli.demo import DemoSpec, write_demo

        folder = data / f"demo-{demo_people}"
        if not (folder / "truth.csv").exists():
            write_demo(folder, DemoSpec(customers=demo_people or 100_000, seed=11, activities=False))
        import shutil

        shutil.copytree(folder / "landing", lake_root / "landing")
        frame = pd.read_csv(folder / "truth.csv", dtype=str)
        truth = dict(zip(frame["Table"] + "|" + frame["SourceKey"], frame["PersonId"], strict=True))
        return (rules_only(DEMO_CONFIG) if "--rules-only" in sys.argv else DEMO_PROBABILISTIC(DEMO_CONFIG)), truth
    names = {"febrl3": ["febrl3"], "febrl4": ["febrl4a", "febrl4b"], "rldata10000": ["rldata10000"]}[dataset]
    for name in names:
        frame = pd.read_parquet(data / f"{name}.parquet")
        target = lake_root / "landing" / ("rldata" if dataset == "rldata10000" else name) / "FullData"
        target.mkdir(parents=True, exist_ok=True)
        frame.drop(columns=["truth"]).to_parquet(target / "data.parquet", index=False)
        table = "rldata" if dataset == "rldata10000" else name
        truth.update(zip(table + "|" + frame["rec_id"], frame["truth"], strict=True))
    config = (RLDATA_CONFIG.replace("THRESHOLD", THRESHOLD) if dataset == "rldata10000"
              else febrl_config(names, dataset == "febrl4"))
    return config, truth


def DEMO_PROBABILISTIC(config: str) -> str:
    """The demo config with the probabilistic model switched on (CI rules stay as must-links)."""
    from c360_cli.demo.benchmark_config import probabilistic_demo_config

    return probabilistic_demo_config(config)


def rules_only(config: str) -> str:
    """The demo config without its probabilistic model: the rules decide alone (CI's own semantics)."""
    switched = config.replace("  probabilistic:\n    enabled: true", "  probabilistic:\n    enabled: false", 1)
    if switched == config:
        raise ValueError("the demo config is expected to enable the probabilistic model")
    return switched


def main() -> None:
    dataset, data = sys.argv[1], Path(sys.argv[2])
    people = int(sys.argv[sys.argv.index("--demo-people") + 1]) if "--demo-people" in sys.argv else None
    from memory import TreePeak
    from metrics import evaluate

    from c360_cli.local import default_workers, follow, land_files, local_settings, running_host  # noqa: F401
    from orchestrators.starters import instance_id
    from shared.lakeio import read_parquet
    from shared.runs import list_runs
    from shared.runtime import build_runtime

    keep = os.environ.get("BENCH_KEEP")  # a folder to keep the lake in, for profiling the steps afterwards
    with (contextlib.nullcontext(keep) if keep else tempfile.TemporaryDirectory(prefix="c360-match-")) as tmp:
        lake_root = Path(tmp) / "lake"
        config, truth = land(lake_root, dataset, data, people)
        settings = local_settings(lake_root, {"C360_QUIET_PERIOD_SECONDS": "0", "C360_SQL_KIND": "none",
                                              "C360_MATCH_PARTITION_RECORDS": os.environ.get("PARTITION_ROWS",
                                                                                             "400000")})
        runtime = build_runtime(settings)
        import urllib.request

        from c360_cli.local import _fresh_app  # noqa: F401
        from shared import ledger
        from shared.config import load_config_text
        from shared.ingest.landing import classify

        memory = TreePeak().start()  # the host's worker processes count too
        with running_host(settings, max_concurrent_activities=2, worker_processes=default_workers()) as host:
            # the clock starts with the function app loaded and its workers started, as a deployed app is
            # when a file lands (and as Splink's starts after ``import splink``); it stops with the result
            host.start_workers()
            started, started_at, host_cpu = time.perf_counter(), datetime.now(UTC), time.process_time()
            runtime.lake.write_bytes(settings.config_path, config.encode())
            parsed = load_config_text(config)
            for item in runtime.lake.list(settings.landing_prefix):  # what the Event Grid starter does per file
                ledger.record_landed(runtime.lake, item, classify(item.path, settings.landing_prefix, parsed),
                                     datetime.now(UTC))
            request = urllib.request.Request(f"{host.base_url}/api/runs", data=b'{"mode": "match_only"}', method="POST",
                                             headers={"Content-Type": "application/json"})
            urllib.request.urlopen(request).read()
            result = follow(host, instance_id(runtime))
            seconds = time.perf_counter() - started
            host_cpu = time.process_time() - host_cpu  # the host's threads (and the memory sampler's)
            memory.record_children()
        if str(result.status) != "Completed":
            raise SystemExit(f"run failed: {result.custom_status}")
        run_id = list_runs(runtime.lake)[-1]
        steps = [json.loads(runtime.lake.read_bytes(item.path))
                 for item in sorted(runtime.lake.list(f"system/runs/{run_id}/steps/"), key=lambda i: i.path)]
        if os.environ.get("BENCH_STEPS"):  # per-step wall time and peak memory, to stderr
            for record in steps:
                print(record["step"], record.get("key"), record.get("seconds"), record.get("cpu_seconds"),
                      record.get("peak_mb"), file=sys.stderr)
        activity_peaks = largest_per_step(steps)
        # when the clusters were known (the merge's end): Splink's scope. The run goes on to the merged
        # profiles (Customer) and the lineage tables, which Splink does not produce; ``seconds`` counts them
        merged = [datetime.fromisoformat(r["finished"]) for r in steps if r["step"] == "merge_clusters"]
        clusters_seconds = (max(merged) - started_at).total_seconds() if merged else None
        # each worker's own peak is one of its activities' peaks: the largest ``workers`` of them bound
        # the workers' sum, whatever the sampling above missed between two activities
        step_peaks = sorted((r["peak_mb"] for r in steps if r.get("peak_mb") is not None), reverse=True)
        workers_bound_mb = sum(step_peaks[:default_workers()])
        keys = read_parquet(runtime.lake, f"system/runs/{run_id}/unified/AlternateKey.parquet").to_pandas()
        tables = {s: s for s in ("febrl3", "febrl4a", "febrl4b")}
        tables.update({"People": "rldata" if dataset == "rldata10000" else "febrl3"})
        if dataset.startswith("demo"):
            names = {("ERP", "Customers"): "erp_customers", ("CRM", "Contacts"): "crm_contacts",
                     ("Ecommerce", "Accounts"): "ecom_accounts", ("POS", "LoyaltyMembers"): "pos_members"}
            record = [names[(d, t)] for d, t in zip(keys["DataSourceName"], keys["TableName"], strict=True)]
        else:
            record = [tables.get(t, t) for t in keys["TableName"]]
        predicted = dict(zip(pd_concat(record, keys["AlternateValue"]), keys["CustomerId"], strict=True))
        metrics = evaluate(truth, predicted)
    memory.stop()
    upper_bound = max(memory.upper_bound_mb, memory.own_mb + workers_bound_mb)
    print(json.dumps({"tool": "c360", "dataset": dataset, "seconds": seconds, "clusters_seconds": clusters_seconds,
                      "host_cpu_seconds": round(host_cpu, 1),
                      "peak_mb": memory.peak_mb,
                      "peak_mb_upper_bound": upper_bound, "activity_peak_mb": activity_peaks,
                      "activity_seconds": largest_per_step(steps, "seconds"), "steps": step_summary(steps),
                      **metrics}))


def largest_per_step(steps: list[dict], measure: str = "peak_mb") -> dict[str, float | None]:
    """Per step, the largest ``measure`` of one of its activities. For ``peak_mb``, what one Function
    instance must hold (exact because each worker process runs one activity at a time, ``shared.procmem``);
    for ``seconds``, how long the step would take with an instance per activity of its fan-out."""
    largest: dict[str, list[float]] = {}
    for record in steps:
        measured = largest.setdefault(record["step"], [])
        if record.get(measure) is not None:
            measured.append(record[measure])
    return {step: max(values) if values else None for step, values in largest.items()}


def step_summary(steps: list[dict]) -> dict[str, dict[str, float]]:
    """Per step: its activities, their summed seconds and CPU seconds, and its span (first start to last
    finish)."""
    out: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(r["step"] for r in steps):
        records = [r for r in steps if r["step"] == name]
        started = min(datetime.fromisoformat(r["started"]) for r in records)
        finished = max(datetime.fromisoformat(r["finished"]) for r in records)
        out[name] = {"activities": len(records), "seconds": round(sum(r.get("seconds") or 0 for r in records), 1),
                     "cpu_seconds": round(sum(r.get("cpu_seconds") or 0 for r in records), 1),
                     "span_seconds": round((finished - started).total_seconds(), 1)}
    return out


def pd_concat(tables: list[str], keys: object) -> list[str]:
    return [f"{t}|{k}" for t, k in zip(tables, keys, strict=True)]  # type: ignore[call-overload]


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    main()
