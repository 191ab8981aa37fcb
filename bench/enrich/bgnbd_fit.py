"""BG/NBD fit on a million customers: c360's fit against a plain scipy fit, in the same run.

    python bench/enrich/bgnbd_fit.py [--customers 1000000] [--seed 5]

Customers are simulated from the BG/NBD process with the CDNOW parameters (r .243, α 4.414, a .793,
b 2.426) over 39 weeks, so the fitted parameters can be checked against the truth. The peer is what a
data scientist writes first: the same log-likelihood, one term per customer, minimised by L-BFGS-B with
finite-difference gradients. c360 aggregates customers with identical (x, t_x, T) and uses analytic
gradients. Prints wall time, the parameters each recovers and the time ratio c360/peer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from shared.enrich.clv import Summary, bgnbd_negative_ll, fit_bgnbd

TRUTH = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def simulate(customers: int, weeks: float, seed: int) -> Summary:
    """x, t_x, T per customer from the BG/NBD story; births spread over the first 12 weeks (as CDNOW)."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(TRUTH["r"], 1 / TRUTH["alpha"], customers)  # purchases per week while alive
    dropout = rng.beta(TRUTH["a"], TRUTH["b"], customers)  # P(dropping out after each purchase)
    birth = rng.uniform(0, 12, customers)
    horizon = weeks - birth
    x = np.zeros(customers)
    last = np.zeros(customers)
    now = np.zeros(customers)
    alive = np.ones(customers, bool)
    while alive.any():
        gap = rng.exponential(1 / np.maximum(rate[alive], 1e-12))
        index = np.flatnonzero(alive)
        now[index] += gap
        within = now[index] <= horizon[index]
        bought = index[within]
        x[bought] += 1
        last[bought] = now[bought]
        stops = bought[rng.random(len(bought)) < dropout[bought]]
        alive[index[~within]] = False
        alive[stops] = False
    days = 7.0  # transactions are dated to the day, as rfm_summary sees them
    frame = pd.DataFrame({"frequency": x, "recency": np.floor(last * days) / days, "T": np.floor(horizon * days) / days,
                          "monetary_value": 0.0})
    return Summary(frame)


def plain_fit(summary: Summary) -> tuple[dict[str, float], float]:
    """The peer: per-customer likelihood, numeric gradients (L-BFGS-B's default)."""
    f = summary.frame
    x, tx, T = (f[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    ones = np.ones(len(x))
    result = minimize(lambda p: bgnbd_negative_ll(p, x, tx, T, ones)[0], np.zeros(4), method="L-BFGS-B")
    r, alpha, a, b = np.exp(result.x)
    return {"r": r, "alpha": alpha, "a": a, "b": b}, -float(result.fun)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    summary = simulate(args.customers, 39.0, args.seed)
    print(f"simulated {args.customers:,} customers in {time.perf_counter() - started:.1f} s "
          f"({(summary.frame['frequency'] > 0).mean():.0%} repeat buyers)")
    results = {}
    for name, fit in (("c360", lambda s: (lambda m: (m.params(), m.log_likelihood))(fit_bgnbd(s))),
                      ("plain scipy", plain_fit)):
        started = time.perf_counter()
        params, ll = fit(summary)
        seconds = time.perf_counter() - started
        results[name] = {"seconds": seconds, "log_likelihood": ll, **params}
        shown = ", ".join(f"{k} {v:.3f}" for k, v in params.items())
        print(f"{name:12s} {seconds:7.2f} s   {shown}   log-likelihood {ll:,.1f}")
    print("truth        " + " " * 10 + ", ".join(f"{k} {v:.3f}" for k, v in TRUTH.items()))
    ratio = results["c360"]["seconds"] / results["plain scipy"]["seconds"]
    print(f"ratio c360/plain scipy: time {ratio:.3f}")
    out = Path(__file__).resolve().parents[1] / "results" / "bgnbd.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"customers": args.customers, "seed": args.seed, "truth": TRUTH,
                               "results": results, "time_ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
