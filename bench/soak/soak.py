"""Soak: 1,000 small files arriving over a few minutes against the local host, every row reconciled.

    python bench/soak/soak.py [--files 1000] [--minutes 3] [--quiet 2]

Files land in random bursts (as extracts from several systems do) and each raises a BlobCreated event
through the real Event Grid starter; a tenth of the events are delivered twice (Event Grid is at least
once). Runs start, batch what arrived during their quiet period, and leave what lands meanwhile to their
follow-up. At the end every landed row must be in the published dimension exactly once: the counts of
files, rows, ledger entries, crosswalk rows and customers are reconciled and printed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from c360_cli.local import blob_created_event, follow, local_settings, post_events, running_host
from orchestrators.starters import instance_id
from shared import ledger
from shared.lakeio import read_parquet_many
from shared.runs import current, list_runs, read_run_record
from shared.runtime import build_runtime

CONFIG = """
version: 1
sources:
  - name: crm
    data_source: CRM
    table: Contacts
    landing: crm
    primary_key: id
    columns: {first: Person.FirstName, last: Person.LastName, email: Identity.Service.Email}
unification:
  match_order: [crm]
  tables:
    crm:
      deduplication:
        rules: [{name: email, conditions: [{field: Email, normalize: [lowercase]}]}]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--quiet", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="c360-soak-") as tmp:
        settings = local_settings(Path(tmp) / "lake", {"C360_QUIET_PERIOD_SECONDS": str(args.quiet)})
        runtime = build_runtime(settings)
        runtime.lake.write_bytes(settings.config_path, CONFIG.encode())
        landed_rows: list[str] = []
        delivered = duplicates = 0
        started = time.perf_counter()
        with running_host(settings) as host:
            def land_all() -> None:
                nonlocal delivered, duplicates
                key = 0
                spacing = args.minutes * 60 / args.files
                for index in range(args.files):
                    rows = rng.randint(1, 5)
                    lines = ["id,first,last,email"]
                    for _ in range(rows):
                        key += 1
                        lines.append(f"{key},F{key},L{key},person{key}@example.com")
                        landed_rows.append(str(key))
                    path = f"landing/crm/IncrementalData/2026/01/01/00/Upserts/soak-{index:05d}.csv"
                    runtime.lake.write_bytes(path, ("\n".join(lines) + "\n").encode())
                    event = blob_created_event(settings, runtime.lake, path)
                    batch = [event, event] if rng.random() < 0.1 else [event]
                    duplicates += len(batch) - 1
                    post_events(host, batch)
                    delivered += len(batch)
                    time.sleep(rng.expovariate(1 / spacing))  # bursts and lulls

            lander = threading.Thread(target=land_all)
            lander.start()
            lander.join()
            result = follow(host, instance_id(runtime), timeout=3600)
        seconds = time.perf_counter() - started
        runs = list_runs(runtime.lake)
        records = [read_run_record(runtime.lake, r) for r in runs]
        files_in_runs = sum(len(r.get("files", [])) for r in records)
        pointer = current(runtime.lake)
        keys_files = [i.path for i in runtime.lake.list(pointer["entities"]["AlternateKey"])
                      if i.path.endswith(".parquet")]
        keys = read_parquet_many(runtime.lake, keys_files).column("AlternateValue").to_pylist()
        customers = runtime.sql.query("SELECT count(*) FROM c360.Customer")[0][0]
        done = len(list(runtime.lake.list("system/ledger/done")))
        report = {
            "files": args.files, "events_delivered": delivered, "duplicate_events": duplicates,
            "rows_landed": len(landed_rows), "runs": len(runs),
            "runs_completed": sum(r.get("status") == "Completed" for r in records),
            "files_in_runs": files_in_runs, "ledger_done": done, "ledger_pending": len(ledger.pending(runtime.lake)),
            "crosswalk_rows": len(keys), "distinct_keys": len(set(keys)), "customers": customers,
            "final_status": str(result.status), "seconds": round(seconds, 1),
        }
        report["reconciled"] = (report["files_in_runs"] == report["files"] == report["ledger_done"]
                                and report["crosswalk_rows"] == report["distinct_keys"] == report["rows_landed"]
                                == report["customers"] and set(keys) == set(landed_rows)
                                and report["ledger_pending"] == 0)
        print(json.dumps(report, indent=1))
        out = Path(__file__).resolve().parents[1] / "results" / "soak.json"
        out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        if not report["reconciled"]:
            raise SystemExit("NOT reconciled")


if __name__ == "__main__":
    main()
