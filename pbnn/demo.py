"""The main job for now: the two-layer tanh BNN on moons with ADVI and NUTS, side by side.

Run ``python -m pbnn.demo --out runs/demo`` (what ``make demo`` does). It prints a table and writes
one saved run per method (spec + NetCDF DataTree) and an uncertainty-map PNG per method.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np

import pbnn
from pbnn import datasets, metrics, plot


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/demo", help="folder for the runs and figures")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="fewer steps and draws (a smoke run)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    data = datasets.moons()
    spec = pbnn.zoo.two_layer_tanh()
    sampler = "numpyro" if importlib.util.find_spec("numpyro") else "pymc"
    quick = args.quick
    methods = {
        "advi": {"method": "advi", "steps": 3_000 if quick else 30_000},
        "advi_minibatch": {"method": "advi", "steps": 3_000 if quick else 30_000, "batch_size": 50},
        "nuts": {"method": "nuts", "sampler": sampler, "draws": 100 if quick else 500,
                 "tune": 100 if quick else 500, "chains": 2},
    }
    print(spec.summary(data.X_train.shape[1:]))
    rows = []
    for name, options in methods.items():
        print(f"\nfitting {name} ...", flush=True)
        fit = pbnn.fit(spec, data.X_train, data.y_train, seed=args.seed, **options)
        start = time.perf_counter()
        pred = fit.predict(data.X_test)
        predict_seconds = time.perf_counter() - start
        probs = pred.draws()
        rows.append((name, fit.seconds, predict_seconds, pred.accuracy(data.y_test),
                     metrics.log_predictive_density(probs, data.y_test)))
        fit.save(out / name)
        plot.uncertainty_map(fit, data.X_test, data.y_test, path=out / f"{name}_uncertainty.png",
                             title=f"{spec.name} on moons: {name}")
    header = f"{'method':<16}{'fit s':>8}{'predict s':>11}{'accuracy':>10}{'nats/pt':>9}"
    print("\n" + header + "\n" + "-" * len(header))
    for name, fit_s, pred_s, acc, lpd in rows:
        print(f"{name:<16}{fit_s:>8.1f}{pred_s:>11.2f}{acc:>10.3f}{lpd:>9.3f}")
    print(f"\nruns and uncertainty maps written to {out}/")
    np.savetxt(out / "table.csv", np.array([r[1:] for r in rows]), delimiter=",",
               header="fit_seconds,predict_seconds,accuracy,lpd_nats_per_point  # rows: " + ",".join(r[0] for r in rows))


if __name__ == "__main__":
    main()
