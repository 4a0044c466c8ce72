"""Variational families against NUTS: mean-field ADVI, full-rank ADVI and an IAF flow (``flow_vi``) on the noisy
sine (how much the posterior's doubt grows away from the data) and on the small UCI sets (test RMSE and LL on the
splits that every family ran, next to the published columns).

The UCI fits are the UCI benchmark's (:mod:`benchmarks.bench_uci`: its options, its record store): this module
fits what the store lacks of ``FAMILIES x SMALL_SETS x`` the first :data:`SPLITS` splits, then compares the
families on the splits they share, so that a difference is one of families, not of splits."""

from __future__ import annotations

from collections.abc import Sequence

import pbnn
from benchmarks import bench_flows, bench_uci
from benchmarks.common import table
from benchmarks.split_store import SplitStore

TITLE = "Variational families vs NUTS: mean field, full rank and a flow on the sine and the small UCI sets"

FAMILIES = ("advi", "fullrank_advi", "flow_vi", "nuts")
SMALL_SETS = ("boston", "concrete", "energy", "wine", "yacht")
#: Splits per set (the first ones): NUTS and full rank take minutes a split, the flow ~6 (bench_uci's costs).
SPLITS = 3
#: The sine fits: ADVI, full rank and the flow as in :mod:`benchmarks.bench_flows`; NUTS as the reference.
SINE_OPTIONS = {
    "advi": bench_flows.OPTIONS["sine"]["advi"],
    "fullrank_advi": bench_flows.OPTIONS["sine"]["fullrank_advi"],
    "flow_vi": bench_flows.OPTIONS["sine"]["flow_vi iaf"],
    "nuts": {"sampler": "numpyro", "chains": 2, "tune": 1000, "draws": 1000},
}
QUICK_SINE = {"advi": {"steps": 500, "draws": 100}, "flow_vi": {"steps": 300, "draws": 100},
              "nuts": {"sampler": "numpyro", "chains": 1, "tune": 100, "draws": 100}}


def paired(records: Sequence[dict], sets: Sequence[str] = SMALL_SETS, families: Sequence[str] = FAMILIES,
           splits: int = SPLITS) -> dict[str, dict]:
    """Per set: the splits (among the first ``splits``) that every family present on it ran, and each family's
    RMSE / LL (mean, se) over those splits: ``{set: {"splits": [...], "missing": [...], family: {"rmse": ...}}}``.
    A family with no record on a set is ``missing`` there and does not narrow the splits.

    >>> r = [{"set": "yacht", "method": m, "split": k, "rmse": 1.0 + k, "ll": -1.0 - k}
    ...      for m, ks in (("advi", (0, 1, 2)), ("nuts", (0, 1))) for k in ks]
    >>> out = paired(r, sets=["yacht"], families=["advi", "nuts", "flow_vi"])["yacht"]
    >>> out["splits"], out["missing"], out["advi"]["ll"]
    ([0, 1], ['flow_vi'], (-1.5, 0.5))
    """
    latest = {(r["set"], r["method"], r["split"]): r for r in records if r["split"] < splits}
    out: dict[str, dict] = {}
    for name in sets:
        ran = {f: {k for (s, m, k) in latest if (s, m) == (name, f)} for f in families}
        present = [f for f in families if ran[f]]
        if not present:
            continue
        shared = sorted(set.intersection(*(ran[f] for f in present)))
        row: dict = {"splits": shared, "missing": [f for f in families if not ran[f]]}
        for f in present if shared else ():
            row[f] = {key: bench_uci.mean_se([latest[(name, f, k)][key] for k in shared]) for key in ("rmse", "ll")}
        out[name] = row
    return out


def _sine_row(method: str, ds, options: dict) -> dict:
    """One sine fit (:func:`benchmarks.bench_flows._row`): test RMSE, LPD, the epistemic std's ratio outside /
    inside the training interval, k-hat (variational methods), seconds."""
    row = bench_flows._row("sine", method, pbnn.zoo.sine(), ds, options)
    return {"method": method, **{k: row[k] for k in ("test RMSE", "test LPD", "epistemic out / in", "k-hat", "fit s")}}


def _uci_tables(results: dict[str, dict], published: dict) -> str:
    blocks = []
    for metric, label in (("rmse", "RMSE"), ("ll", "test LL")):
        rows = []
        for name, row in results.items():
            d = bench_uci.digits_for(name, metric)
            cells = {f"pbnn {f}": bench_uci.fmt_mean_se(row[f][metric], d) if f in row else "–" for f in FAMILIES}
            rivals = {p: bench_uci.fmt_mean_se(published.get(name, {}).get(metric, {}).get(p))
                      for p in ("VI", "PBP", "MC dropout")}
            rows.append({"data set": name, "splits": ", ".join(map(str, row["splits"])), **cells, **rivals})
        blocks.append(f"**{label}** (mean ± standard error over the splits that every family ran)\n\n" + table(rows))
    return "\n\n".join(blocks)


def ranking(results: dict[str, dict]) -> list[str]:
    """Per set, the families by test LL on the shared splits, best first, and each flow-minus-mean-field gap.

    >>> ranking({"yacht": {"splits": [0], "missing": [], "advi": {"ll": (-1.5, 0.1)}, "nuts": {"ll": (-1.2, 0.1)}}})
    ['yacht (splits 0): nuts -1.20 > advi -1.50']
    """
    lines = []
    for name, row in results.items():
        order = sorted((f for f in FAMILIES if f in row), key=lambda f: -row[f]["ll"][0])
        line = f"{name} (splits {', '.join(map(str, row['splits']))}): " + " > ".join(
            f"{f} {row[f]['ll'][0]:.2f}" for f in order)
        if "flow_vi" in row and "advi" in row:
            line += f"; flow_vi - advi {row['flow_vi']['ll'][0] - row['advi']['ll'][0]:+.2f}"
        if row["missing"]:
            line += f" (not run: {', '.join(row['missing'])})"
        lines.append(line)
    return lines


def run(quick: bool = False) -> str:
    ds = pbnn.datasets.sine(seed=bench_flows.SEED)
    sine_options = QUICK_SINE if quick else SINE_OPTIONS
    sine = [_sine_row(m, ds, o) for m, o in sine_options.items()]
    parts = [
        f"**The sine** (`pbnn.datasets.sine(seed={bench_flows.SEED})`, {len(ds.y_train)} training points, "
        f"`pbnn.zoo.sine()`, D = 482, seed {bench_flows.SEED}; options: "
        + "; ".join(f"{m} {o}" for m, o in sine_options.items())
        + "). `epistemic out / in`: the mean epistemic std (`pbnn.uncertainty`) at the test inputs outside the "
        "training interval over its mean inside it (`bench_flows.epistemic_ratio`); k-hat: `pbnn.elpd.vi_khat`.",
        table(sine),
    ]
    try:
        root = bench_uci.data_root()
    except FileNotFoundError as err:
        return "\n\n".join(parts + [f"UCI part skipped: the UCI benchmark data are not here ({err})."])
    store = SplitStore(bench_uci.store_path())
    if not quick:  # what the store lacks, fitted with the UCI benchmark's options
        for name in SMALL_SETS:
            for method in FAMILIES:
                for k in range(SPLITS):
                    bench_uci.ensure(store, name, k, method, False, root)
    records = [r for r in store.records() if bench_uci.current(r, False)]
    results = paired(records)
    options = "; ".join(f"{m} {bench_uci.METHODS[m]}" for m in FAMILIES)
    parts += [
        f"**The small UCI sets** (the UCI benchmark's network, protocol and records, `{bench_uci.store_path().name}`; "
        f"options: {options}), on the first {SPLITS} splits that every family ran; the published columns are 20-split "
        "means (Gal & Ghahramani 2016, Table 1).",
        _uci_tables(results, bench_uci.published_table(root)),
        "Families by test LL on the shared splits:\n\n" + "\n".join(f"* {line}." for line in ranking(results)),
    ]
    return "\n\n".join(parts)
