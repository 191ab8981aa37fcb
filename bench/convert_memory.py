"""Peak memory of converting a large CSV (default 2 GB) to a CDM entity, against pandas.read_csv.

Each contender runs in its own process; peak RSS comes from the kernel (``ru_maxrss`` of the child).
    python bench/convert_memory.py --gigabytes 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEADER = "id,first,last,email,birth,points,vip,notes\n"
CONFIG = """
version: 1
sources:
  - name: contacts
    data_source: CRM
    table: Contacts
    landing: crm
    format: csv
    primary_key: id
    columns:
      id: {data_type: string}
      first: Person.FirstName
      last: Person.LastName
      email: Identity.Service.Email
      birth: Person.BirthDate
      points: {data_type: int64}
      vip: {data_type: boolean}
      notes: {data_type: string}
unification:
  match_order: [contacts]
"""


def write_csv(path: Path, gigabytes: float) -> int:
    """A synthetic customer extract of about ``gigabytes`` GB, written in chunks."""
    import numpy as np

    rng = np.random.default_rng(1)
    target = int(gigabytes * 1024**3)
    rows = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        while out.tell() < target:
            n = 200_000
            ids = np.arange(rows, rows + n)
            first = rng.choice(["Ann", "Bo", "Cy", "Dana", "Eli", "José", "Zoë"], n)
            points = rng.integers(0, 10_000, n)
            day = rng.integers(1, 28, n)
            lines = [f'{i},{f},Lee{i % 997},{f.lower()}{i}@example.com,1980-01-{d:02d},{p},'
                     f'{"true" if p % 2 else "false"},"note, with a comma ""and quotes"" {i}"\n'
                     for i, f, p, d in zip(ids, first, points, day, strict=True)]
            out.write("".join(lines))
            rows += n
    return rows


def run_c360(csv: Path, folder: Path) -> dict[str, float]:
    from shared.adapters.local_lake import LocalLake
    from shared.config import load_config_text
    from shared.ingest.convert import convert_file

    lake = LocalLake(folder)
    os.link(csv, folder / "big.csv") if not (folder / "big.csv").exists() else None
    started = time.perf_counter()
    source = load_config_text(CONFIG).source("contacts")
    result = convert_file(lake, source, "big.csv", "out/e.parquet", "out/q.parquet")
    return {"rows": result.accepted, "quarantined": result.quarantined, "seconds": time.perf_counter() - started}


def run_pandas(csv: Path, folder: Path) -> dict[str, float]:
    import pandas as pd

    started = time.perf_counter()
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    frame.to_parquet(folder / "pandas.parquet")
    return {"rows": len(frame), "seconds": time.perf_counter() - started}


def child(which: str, csv: str, folder: str) -> None:
    result = (run_c360 if which == "c360" else run_pandas)(Path(csv), Path(folder))
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gigabytes", type=float, default=2.0)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--skip-pandas", action="store_true", help="pandas needs several times the file in RAM")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(prefix="c360-bench-") as tmp:
        folder = Path(tmp)
        csv = folder / "big.csv"
        started = time.perf_counter()
        rows = write_csv(csv, args.gigabytes)
        size_mb = csv.stat().st_size / 1024**2
        print(f"input: {size_mb:,.0f} MB, {rows:,} rows (written in {time.perf_counter() - started:.0f} s)")
        results = {}
        for which in ("c360",) + (() if args.skip_pandas else ("pandas",)):
            env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
            out = subprocess.run([sys.executable, __file__, "--child", which, str(csv), str(folder)],
                                 capture_output=True, text=True, env=env, check=False)
            if out.returncode != 0:
                print(f"{which}: failed (exit {out.returncode}): {out.stderr.strip().splitlines()[-1:]}")
                continue
            results[which] = json.loads(out.stdout.strip().splitlines()[-1])
            r = results[which]
            print(f"{which:7s} peak {r['peak_mb']:8,.0f} MB   {r['seconds']:6.1f} s   {r['rows']:,} rows "
                  f"({r['rows'] / r['seconds'] / 1e6:.2f} M rows/s)")
        if "c360" in results and "pandas" in results:
            c, p = results["c360"], results["pandas"]
            print(f"ratio c360/pandas: peak memory {c['peak_mb'] / p['peak_mb']:.2f}, "
                  f"time {c['seconds'] / p['seconds']:.2f}")
        verdict = "PASS" if results.get("c360", {}).get("peak_mb", 1e9) < 1024 else "FAIL"
        print(f"target: c360 peak memory < 1 GB for a {size_mb / 1024:.1f} GB CSV: {verdict}")
        (ROOT / "bench" / "results" / "convert_memory.json").write_text(
            json.dumps({"input_mb": size_mb, "rows": rows, **results}, indent=2))


if __name__ == "__main__":
    main()
