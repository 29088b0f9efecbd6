"""Scale curve of the dealer feature computation (and of the synthetic platform generator).

    .venv/bin/python bench/bench_features.py                 # 10,000 and 100,000 dealers
    .venv/bin/python bench/bench_features.py --sizes 2000 10000 --repeat 3

Each size's platform is generated once and cached as Parquet under bench/out/. Every measurement
runs in a fresh child process, so the peak resident set size (getrusage ``ru_maxrss``) is that of
loading the history plus computing the features, nothing else. Prints figures; never asserts a
timing (the target is 100,000 dealers / ~5M orders in at most 60 s and 4 GB on two cores).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _platform_dir(n_dealers: int, seed: int) -> Path:
    return OUT / f"platform_{n_dealers}_seed{seed}"


def generate(n_dealers: int, seed: int) -> dict:
    from risk_engine.demo import generate_platform

    started = time.perf_counter()
    platform = generate_platform(n_dealers=n_dealers, seed=seed)
    seconds = time.perf_counter() - started
    platform.to_parquet(_platform_dir(n_dealers, seed))
    return {
        "step": "generate",
        "dealers": n_dealers,
        "orders": len(platform.orders),
        "payments": len(platform.payments),
        "invoices": len(platform.invoices),
        "loans": len(platform.loans),
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(_peak_rss_mb()),
    }


def measure(n_dealers: int, seed: int, repeat: int) -> dict:
    import pandas as pd

    from risk_engine.demo import Platform
    from scoring.features import REQUIRED_COLUMNS, compute_features

    started = time.perf_counter()
    platform = Platform.from_parquet(_platform_dir(n_dealers, seed), columns=REQUIRED_COLUMNS)
    trade = platform.trade_frames()
    load_seconds = time.perf_counter() - started
    rss_after_load = _peak_rss_mb()
    as_of = pd.Timestamp(platform.observed_until) - pd.Timedelta(days=1)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        features = compute_features(trade, as_of)
        timings.append(time.perf_counter() - started)
    return {
        "step": "compute_features",
        "dealers": n_dealers,
        "orders": len(trade.orders),
        "payments": len(trade.payments),
        "as_of": as_of.isoformat(),
        "rows": len(features),
        "columns": features.shape[1],
        "load_seconds": round(load_seconds, 2),
        "seconds": [round(t, 2) for t in timings],
        "peak_rss_mb_after_load": round(rss_after_load),
        "peak_rss_mb": round(_peak_rss_mb()),
    }


def _child(*args: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if result.returncode != 0:
        return {"step": args[1], "error": result.stderr.strip().splitlines()[-1:]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--regenerate", action="store_true", help="ignore cached Parquet")
    parser.add_argument("--child", nargs=2, metavar=("STEP", "DEALERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        step, n = args.child[0], int(args.child[1])
        out = generate(n, args.seed) if step == "generate" else measure(n, args.seed, args.repeat)
        print(json.dumps(out))
        return

    for n in args.sizes:
        if args.regenerate or not (_platform_dir(n, args.seed) / "orders.parquet").exists():
            print(json.dumps(_child("--child", "generate", str(n), "--seed", str(args.seed))), flush=True)
        print(
            json.dumps(
                _child("--child", "features", str(n), "--seed", str(args.seed), "--repeat", str(args.repeat))
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
