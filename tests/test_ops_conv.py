"""Tests for pbnn.ops.conv: im2col conv2d and pooling built from PyTensor primitives.

Values are checked against independent numpy/scipy references under JAX (pbnn's
fitting backend) and FAST_COMPILE (PyTensor's Python implementations of the same
graphs). Each mode compiles ONE function holding all forward outputs and gradients
(cached per module) to keep the run time low. PyTensor's default backend, NUMBA
(FAST_RUN is the same linker and rewrites), compiles every new op anew on a cold
cache (as CI has: 1-7 s an op, 145 s for the full case matrix on the 2-core
machine), so it gets one compact conv-pool chain at two input shapes
(``test_default_backend_runs_a_conv_pool_chain``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.replace import vectorize_graph
from pytensor.graph.traversal import apply_ancestors
from pytensor.tensor.blockwise import Blockwise
from scipy.signal import correlate2d

from pbnn.ops.conv import (
    avg_pool2d,
    conv2d,
    conv2d_output_shape,
    max_pool2d,
    pool2d_output_shape,
)

MODES = ["JAX", "FAST_COMPILE"]

# input (N, C, H, W) and filters (F, C, kh, kw): odd sizes, several channels/filters
X_SHAPE = (2, 3, 7, 5)
W_SHAPE = (4, 3, 3, 2)
# strides 1, 2, (2, 1) x paddings valid / same / explicit, without the full product
CONV_CASES = [
    (1, "valid"),
    (1, "same"),
    (2, "same"),
    ((2, 1), "valid"),
    ((2, 1), "same"),
    (2, (1, 2)),
    ((2, 1), 1),
]
BIG_KERNEL_CASE = ((2, 2), "same")  # 5x5 kernel on a 7x5 input: wider than W
POOL_CASES = [
    ((2, 2), None),  # 7x5 does not divide evenly
    ((3, 2), (2, 1)),  # stride != pool size, overlapping windows
    ((1, 5), 1),  # window spans the full width, stride 1
]
GRAD_CONV_CASES = [(1, "valid"), (2, "same"), ((2, 1), (1, 2))]
GRAD_POOL_CASES = [((2, 2), None), ((3, 2), (2, 1))]


def _mode(mode: str) -> str:
    if mode == "JAX":
        pytest.importorskip("jax")
    return mode


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# --------------------------------------------------------------------------
# independent numpy / scipy references
# --------------------------------------------------------------------------
def conv_ref(x, w, stride=1, padding="valid"):
    """Cross-correlation via scipy.signal.correlate2d summed over channels."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    sh, sw = _pair(stride)
    if padding == "same":

        def tf_same(size, k, s):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            return total // 2, total - total // 2

        pad_h, pad_w = tf_same(h, kh, sh), tf_same(wd, kw, sw)
    elif padding == "valid":
        pad_h = pad_w = (0, 0)
    else:
        ph, pw = _pair(padding)
        pad_h, pad_w = (ph, ph), (pw, pw)
    xp = np.pad(x, ((0, 0), (0, 0), pad_h, pad_w))
    full = np.array(
        [
            [sum(correlate2d(xp[i, ch], w[j, ch], mode="valid") for ch in range(c)) for j in range(f)]
            for i in range(n)
        ]
    )
    return full[:, :, ::sh, ::sw]


def _windows(h, w, pool, stride):
    ph, pw = _pair(pool)
    sh, sw = _pair(pool if stride is None else stride)
    for i, r in enumerate(range(0, h - ph + 1, sh)):
        for j, c in enumerate(range(0, w - pw + 1, sw)):
            yield i, j, slice(r, r + ph), slice(c, c + pw)


def pool_ref(x, pool, stride=None, kind="max"):
    n, c, h, w = x.shape
    ho, wo = pool2d_output_shape((h, w), pool, stride)
    out = np.empty((n, c, ho, wo))
    red = np.max if kind == "max" else np.mean
    for i, j, rs, cs in _windows(h, w, pool, stride):
        out[:, :, i, j] = red(x[:, :, rs, cs], axis=(2, 3))
    return out


def max_pool_grad_ref(x, g, pool, stride=None):
    """d/dx sum(max_pool(x) * g): g goes to each window's (unique) argmax."""
    n, c, h, w = x.shape
    dx = np.zeros_like(x)
    for i, j, rs, cs in _windows(h, w, pool, stride):
        for a in range(n):
            for b in range(c):
                win = x[a, b, rs, cs]
                r, q = np.unravel_index(np.argmax(win), win.shape)
                dx[a, b, rs.start + r, cs.start + q] += g[a, b, i, j]
    return dx


def avg_pool_grad_ref(x, g, pool, stride=None):
    ph, pw = _pair(pool)
    dx = np.zeros_like(x)
    for i, j, rs, cs in _windows(x.shape[2], x.shape[3], pool, stride):
        dx[:, :, rs, cs] += g[:, :, i, j][:, :, None, None] / (ph * pw)
    return dx


def central_diff(fun, v, eps=0.5):
    """Numerical gradient of scalar fun at v (exact up to rounding for linear fun)."""
    grad = np.empty_like(v)
    for idx in np.ndindex(v.shape):
        vp, vm = v.copy(), v.copy()
        vp[idx] += eps
        vm[idx] -= eps
        grad[idx] = (fun(vp) - fun(vm)) / (2 * eps)
    return grad


# --------------------------------------------------------------------------
# data and compiled functions (one forward + one gradient function per mode)
# --------------------------------------------------------------------------
@functools.cache
def data():
    rng = np.random.default_rng(20240611)
    return {
        "x": rng.normal(size=X_SHAPE),
        "w": rng.normal(size=W_SHAPE),
        "w5": rng.normal(size=(2, 3, 5, 5)),
        "rng": rng,
    }


def _symbols():
    x = pt.tensor("x", shape=(None, *X_SHAPE[1:]))  # static C, H, W; dynamic N
    w = pt.tensor("w", shape=W_SHAPE)
    w5 = pt.tensor("w5", shape=(2, 3, 5, 5))
    return x, w, w5


@functools.cache
def compiled(mode):
    """ONE function per mode: forward outputs, then gradients of sum(out * G).

    Returns (symbolic forward outputs, the G arrays, compiled function).
    """
    x, w, w5 = _symbols()
    outs = [conv2d(x, w, stride=s, padding=p) for s, p in CONV_CASES]
    outs.append(conv2d(x, w5, stride=BIG_KERNEL_CASE[0], padding=BIG_KERNEL_CASE[1]))
    outs += [max_pool2d(x, p, stride=s) for p, s in POOL_CASES]
    outs += [avg_pool2d(x, p, stride=s) for p, s in POOL_CASES]

    gs, grads = _grad_targets(), []
    k = 0
    for s, p in GRAD_CONV_CASES:
        y = conv2d(x, w, stride=s, padding=p)
        grads += pytensor.grad(pt.sum(y * gs[k]), [x, w])
        k += 1
    for pool_op in (max_pool2d, avg_pool2d):
        for p, s in GRAD_POOL_CASES:
            y = pool_op(x, p, stride=s)
            grads.append(pytensor.grad(pt.sum(y * gs[k]), x))
            k += 1
    f = pytensor.function([x, w, w5], outs + grads, mode=mode)
    return outs, f


@functools.cache
def results(mode):
    outs, f = compiled(mode)
    d = data()
    res = f(d["x"], d["w"], d["w5"])
    return outs, res[: len(outs)], res[len(outs) :]


@functools.cache
def _grad_targets():
    """Fixed random G (shaped like each gradient case's output)."""
    rng = np.random.default_rng(7)
    shapes = [
        (X_SHAPE[0], W_SHAPE[0], *conv2d_output_shape(X_SHAPE[2:], W_SHAPE[2:], s, p))
        for s, p in GRAD_CONV_CASES
    ]
    shapes += [(*X_SHAPE[:2], *pool2d_output_shape(X_SHAPE[2:], p, s)) for p, s in GRAD_POOL_CASES] * 2
    return [rng.normal(size=shape) for shape in shapes]


@functools.cache
def reference_grads():
    """Numpy references for the gradients, in the order `compiled` returns them."""
    d, gs = data(), _grad_targets()
    x0, w0 = d["x"], d["w"]
    refs = []
    for (s, p), g in zip(GRAD_CONV_CASES, gs, strict=False):
        refs.append(central_diff(lambda v, s=s, p=p, g=g: np.sum(conv_ref(v, w0, s, p) * g), x0))
        refs.append(central_diff(lambda v, s=s, p=p, g=g: np.sum(conv_ref(x0, v, s, p) * g), w0))
    pool_refs = [max_pool_grad_ref] * len(GRAD_POOL_CASES) + [avg_pool_grad_ref] * len(GRAD_POOL_CASES)
    pool_gs = gs[len(GRAD_CONV_CASES) :]
    for ref, (p, s), g in zip(pool_refs, GRAD_POOL_CASES * 2, pool_gs, strict=True):
        refs.append(ref(x0, g, p, s))
    return refs


# --------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_conv2d_values(mode):
    outs, values, _ = results(_mode(mode))
    d = data()
    cases = [(d["w"], s, p) for s, p in CONV_CASES] + [(d["w5"], *BIG_KERNEL_CASE)]
    for (wv, s, p), sym, got in zip(cases, outs, values, strict=False):
        expected = conv_ref(d["x"], wv, s, p)
        hw = conv2d_output_shape(X_SHAPE[2:], wv.shape[2:], s, p)
        assert got.shape == expected.shape == (X_SHAPE[0], wv.shape[0], *hw), (s, p)
        assert sym.type.shape[1:] == (wv.shape[0], *hw)  # static shape inference
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10, err_msg=f"{s=} {p=}")


@pytest.mark.parametrize("mode", MODES)
def test_pool_values(mode):
    _, values, _ = results(_mode(mode))
    d = data()
    cases = [("max", p, s) for p, s in POOL_CASES] + [("avg", p, s) for p, s in POOL_CASES]
    for (kind, p, s), got in zip(cases, values[len(CONV_CASES) + 1 :], strict=True):
        expected = pool_ref(d["x"], p, s, kind)
        assert got.shape == expected.shape == (*X_SHAPE[:2], *pool2d_output_shape(X_SHAPE[2:], p, s))
        np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=f"{kind} {p=} {s=}")


def test_pool_known_values():
    x = pt.tensor4("x")
    f = pytensor.function([x], [max_pool2d(x, 2), avg_pool2d(x, 2, stride=(1, 2))], mode="FAST_COMPILE")
    mx, av = f(np.arange(25.0).reshape(1, 1, 5, 5))
    np.testing.assert_array_equal(mx[0, 0], [[6.0, 8.0], [16.0, 18.0]])
    np.testing.assert_array_equal(av[0, 0], [[3.0, 5.0], [8.0, 10.0], [13.0, 15.0], [18.0, 20.0]])


def test_conv2d_is_cross_correlation_not_convolution():
    x = pt.tensor4("x")
    w = pt.tensor("w", shape=(1, 1, 1, 2))
    out = pytensor.function([x, w], conv2d(x, w), mode="FAST_COMPILE")(
        np.array([[[[1.0, 2.0, 3.0]]]]), np.array([[[[10.0, 1.0]]]])
    )
    np.testing.assert_array_equal(out, [[[[12.0, 23.0]]]])  # 1*10 + 2*1, 2*10 + 3*1


@pytest.mark.parametrize("mode", ["FAST_COMPILE"])
def test_conv2d_dynamic_input_shape(mode):
    """x with no static shape at all, also batched over weight draws (not JAX:
    JAX needs static H and W)."""
    x, w = pt.tensor4("x"), pt.tensor("w", shape=W_SHAPE)
    cases = [(1, "same"), ((2, 1), (1, 0)), (2, "valid")]
    outs = [conv2d(x, w, stride=s, padding=p) for s, p in cases]
    # conv -> max-pool -> conv, vectorized over 2 draws of the first filters
    w2 = pt.tensor("w2", shape=(2, W_SHAPE[0], 2, 2))
    chain = conv2d(max_pool2d(conv2d(x, w, padding="same"), 2), w2, padding="same")
    w_b = pt.tensor("w_b", shape=(2, *W_SHAPE))
    chain_b = vectorize_graph(chain, replace={w: w_b})
    _only_matmul_blockwise(chain_b)
    f = pytensor.function([x, w, w_b, w2], [*outs, chain_b], mode=mode)

    d = data()
    w_draws = np.stack([d["w"], -0.5 * d["w"]])
    w2v = d["rng"].normal(size=(2, W_SHAPE[0], 2, 2))
    for xv in (d["x"], d["x"][:1, :, :6, :4]):
        *got, got_chain = f(xv, d["w"], w_draws, w2v)
        for (s, p), g in zip(cases, got, strict=True):
            np.testing.assert_allclose(g, conv_ref(xv, d["w"], s, p), rtol=1e-10, atol=1e-10)
        ref_chain = [conv_ref(pool_ref(conv_ref(xv, wd, 1, "same"), 2), w2v, 1, "same") for wd in w_draws]
        np.testing.assert_allclose(got_chain, np.stack(ref_chain), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", ["FAST_COMPILE"])
def test_max_pool_gradient_at_ties(mode):
    """On a flat input every window is a tie; each window must pass its gradient to
    exactly ONE element (a valid subgradient), so d/db sum(pool(x + b)) = #windows."""
    x, b = pt.tensor("x", shape=(None, 2, 4, 5)), pt.scalar("b")
    total = pt.sum(max_pool2d(x + b, 2, stride=1)) + pt.sum(max_pool2d(x + b, 2))
    f = pytensor.function([x, b], pytensor.grad(total, [x, b]), mode=mode)
    gx, gb = f(np.zeros((3, 2, 4, 5)), 0.7)
    n_windows = 3 * 2 * (3 * 4 + 2 * 2)
    assert gb == pytest.approx(n_windows)
    assert gx.sum() == pytest.approx(n_windows)
    assert set(np.unique(gx)) <= {0.0, 1.0, 2.0}


def test_default_backend_runs_a_conv_pool_chain():
    """PyTensor's default mode (NUMBA): a strided, padded conv -> relu -> overlapping max-pool -> conv -> avg-pool
    chain on an input of no static shape, against the numpy references at two input sizes. (Its gradient graph
    holds a new IncSubtensor per window slice: 58 s more of cold NUMBA compilation; the gradients are checked
    under FAST_COMPILE and JAX.)"""
    assert isinstance(pytensor.compile.mode.get_default_mode().linker, pytensor.link.numba.NumbaLinker)
    x, w = pt.tensor4("x"), pt.tensor("w", shape=W_SHAPE)
    w2 = pt.tensor("w2", shape=(2, W_SHAPE[0], 2, 2))
    h = max_pool2d(pt.maximum(conv2d(x, w, stride=(2, 1), padding=(1, 0)), 0.0), (2, 2), stride=1)
    f = pytensor.function([x, w, w2], avg_pool2d(conv2d(h, w2, padding="same"), (2, 1)))

    d = data()
    w2v = d["rng"].normal(size=(2, W_SHAPE[0], 2, 2))
    for xv in (d["x"], d["x"][:1, :, :6, :4]):
        hv = pool_ref(np.maximum(conv_ref(xv, d["w"], (2, 1), (1, 0)), 0.0), (2, 2), 1)
        expected = pool_ref(conv_ref(hv, w2v, 1, "same"), (2, 1), kind="avg")
        np.testing.assert_allclose(f(xv, d["w"], w2v), expected, rtol=1e-10, atol=1e-10)


def test_float32_dtype_is_kept():
    x = pt.tensor("x", shape=(None, 1, 4, 4), dtype="float32")
    w = pt.tensor("w", shape=(2, 1, 3, 3), dtype="float32")
    y = avg_pool2d(max_pool2d(conv2d(x, w, padding="same"), 2, stride=1), 2)
    assert y.dtype == "float32"
    f = pytensor.function([x, w], y, mode="FAST_COMPILE")
    out = f(np.ones((1, 1, 4, 4), "float32"), np.ones((2, 1, 3, 3), "float32"))
    assert out.dtype == np.float32 and out.shape == (1, 2, 1, 1)


# --------------------------------------------------------------------------
# gradients
# --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_gradients(mode):
    """d/dx and d/dw of sum(conv * G), d/dx of sum(pool * G) vs numpy references."""
    _, _, grads = results(_mode(mode))
    refs = reference_grads()
    assert len(grads) == len(refs)
    for got, ref in zip(grads, refs, strict=True):
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-8)


def test_verify_grad_conv_pool_chain():
    rng = np.random.default_rng(3)

    def chain(x, w):
        w = pt.specify_shape(w, (2, 2, 2, 3))
        return max_pool2d(conv2d(x, w, stride=(1, 2), padding="same"), 2, stride=1)

    pytensor.gradient.verify_grad(
        chain,
        [rng.normal(size=(1, 2, 5, 6)), rng.normal(size=(2, 2, 2, 3))],
        rng=rng,
        mode="FAST_COMPILE",
    )


# --------------------------------------------------------------------------
# vectorize_graph: posterior-draw batch dimension on the weights
# --------------------------------------------------------------------------
def _only_matmul_blockwise(var):
    """Vectorization must not fall back to Blockwise-wrapping anything but matmul."""
    ops = {str(n.op) for n in apply_ancestors([var]) if isinstance(n.op, Blockwise)}
    assert ops <= {"Matmul"}, ops


@pytest.mark.parametrize("mode", ["JAX", "FAST_COMPILE"])
def test_vectorize_batched_weights(mode):
    _mode(mode)
    rng = np.random.default_rng(11)
    n_draws = 3
    x = pt.tensor("x", shape=(None, 3, 7, 6))
    w1 = pt.tensor("w1", shape=(4, 3, 3, 3))
    b1 = pt.tensor("b1", shape=(4,))
    w2 = pt.tensor("w2", shape=(2, 4, 2, 2))

    # plain conv, and a conv -> bias -> relu -> max-pool -> conv -> avg-pool chain
    y_conv = conv2d(x, w1, stride=(2, 1), padding="same")
    h = conv2d(x, w1, padding="same") + b1[None, :, None, None]
    h = max_pool2d(pt.maximum(h, 0.0), 2)
    y_chain = avg_pool2d(conv2d(h, w2, padding=(1, 0)), (2, 1))

    w1_b = pt.tensor("w1_b", shape=(n_draws, 4, 3, 3, 3))
    b1_b = pt.tensor("b1_b", shape=(n_draws, 4))
    w2_b = pt.tensor("w2_b", shape=(n_draws, 2, 4, 2, 2))
    yb_conv = vectorize_graph(y_conv, replace={w1: w1_b})
    yb_chain = vectorize_graph(y_chain, replace={w1: w1_b, b1: b1_b, w2: w2_b})
    _only_matmul_blockwise(yb_conv)
    _only_matmul_blockwise(yb_chain)
    assert yb_conv.type.shape == (n_draws, None, 4, 4, 6)
    assert yb_chain.type.shape == (n_draws, None, 2, 2, 2)

    f = pytensor.function([x, w1_b, b1_b, w2_b], [yb_conv, yb_chain], mode=mode)
    xv = rng.normal(size=(2, 3, 7, 6))
    w1v = rng.normal(size=(n_draws, 4, 3, 3, 3))
    b1v = rng.normal(size=(n_draws, 4))
    w2v = rng.normal(size=(n_draws, 2, 4, 2, 2))
    got_conv, got_chain = f(xv, w1v, b1v, w2v)

    ref_conv = np.stack([conv_ref(xv, w1v[s], (2, 1), "same") for s in range(n_draws)])
    ref_chain = []
    for s in range(n_draws):
        hv = conv_ref(xv, w1v[s], 1, "same") + b1v[s][None, :, None, None]
        hv = pool_ref(np.maximum(hv, 0.0), 2, kind="max")
        ref_chain.append(pool_ref(conv_ref(hv, w2v[s], 1, (1, 0)), (2, 1), kind="avg"))
    assert got_conv.shape == (n_draws, 2, 4, 4, 6)
    assert got_chain.shape == (n_draws, 2, 2, 2, 2)
    np.testing.assert_allclose(got_conv, ref_conv, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got_chain, np.stack(ref_chain), rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------
# shape helpers and argument validation
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (((28, 28), 3, 1, "same"), (28, 28)),
        (((28, 28), 3, 1, "valid"), (26, 26)),
        (((7, 5), (3, 2), (2, 1), "valid"), (3, 4)),
        (((7, 5), (3, 2), 2, "same"), (4, 3)),
        (((7, 5), 3, 1, (1, 2)), (7, 7)),
        (((3, 3), 5, 1, "same"), (3, 3)),
        (((1, 1), 3, 1, 1), (1, 1)),
        (((8, 8), 3, 2, "SAME"), (4, 4)),
    ],
)
def test_conv2d_output_shape(args, expected):
    assert conv2d_output_shape(*args) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (((7, 5), 2, None), (3, 2)),
        (((7, 5), 3, (2, 1)), (3, 3)),
        (((8, 8), (2, 4), None), (4, 2)),
        (((4, 4), 4, 1), (1, 1)),
    ],
)
def test_pool2d_output_shape(args, expected):
    assert pool2d_output_shape(*args) == expected


def test_shape_errors():
    with pytest.raises(ValueError) as e:
        conv2d_output_shape((3, 3), 5, 1, "valid")
    assert str(e.value) == "kernel_size (5, 5) is larger than the input (3, 3) (after padding)"
    with pytest.raises(ValueError) as e:
        conv2d_output_shape((3, 4), (2, 7), 1, 1)
    assert str(e.value) == "kernel_size (2, 7) is larger than the input (5, 6) (after padding)"
    with pytest.raises(ValueError) as e:
        pool2d_output_shape((2, 5), 3)
    assert str(e.value) == "pool_size (3, 3) is larger than the input (2, 5)"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: conv2d_output_shape((8, 8), 3, 1, "full"),
            (
                "padding must be 'valid', 'same', a non-negative int or a pair of non-negative "
                "ints (ph, pw), got 'full'"
            ),
        ),
        (
            lambda: conv2d_output_shape((8, 8), 3, 1, -1),
            (
                "padding must be 'valid', 'same', a non-negative int or a pair of non-negative "
                "ints (ph, pw), got -1"
            ),
        ),
        (
            lambda: conv2d_output_shape((8, 8), 3, 0, "same"),
            "stride must be a positive int or a pair of positive ints (h, w), got 0",
        ),
        (
            lambda: conv2d_output_shape((8, 8), 3, (1, 2, 3), "same"),
            "stride must be a positive int or a pair of positive ints (h, w), got (1, 2, 3)",
        ),
        (
            lambda: conv2d_output_shape((8, 8), 2.5, 1, "same"),
            "kernel_size must be a positive int or a pair of positive ints (h, w), got 2.5",
        ),
        (
            lambda: conv2d_output_shape(8, True, 1, "same"),
            "kernel_size must be a positive int or a pair of positive ints (h, w), got True",
        ),
        (
            lambda: pool2d_output_shape((8, 8), 2, stride=(0, 1)),
            "stride must be a positive int or a pair of positive ints (h, w), got (0, 1)",
        ),
        (
            lambda: pool2d_output_shape((8, -8), 2),
            "in_hw must be a positive int or a pair of positive ints (h, w), got (8, -8)",
        ),
    ],
)
def test_argument_validation(call, message):
    with pytest.raises(ValueError) as e:
        call()
    assert str(e.value) == message


def test_symbolic_argument_validation():
    x = pt.tensor("x", shape=(None, 3, 3, 3))
    msg = r"kernel_size \(5, 5\) is larger than the input \(3, 3\) \(after padding\)"
    with pytest.raises(ValueError, match=msg):
        conv2d(x, pt.tensor("w", shape=(2, 3, 5, 5)))
    with pytest.raises(ValueError, match=r"pool_size \(4, 4\) is larger than the input \(3, 3\)"):
        max_pool2d(x, 4)
    with pytest.raises(ValueError, match="x has 3 channels but w expects 2"):
        conv2d(x, pt.tensor("w", shape=(2, 2, 1, 1)))
    with pytest.raises(ValueError, match="static kernel size"):
        conv2d(x, pt.tensor4("w"))
    with pytest.raises(ValueError, match=r"x must be a 4-d tensor \(N, C, H, W\), got ndim=3"):
        avg_pool2d(pt.tensor3("x"), 2)
    with pytest.raises(ValueError, match="needs the static spatial size of x"):
        conv2d(pt.tensor4("x"), pt.tensor("w", shape=(1, 1, 3, 3)), stride=2, padding="same")
    with pytest.raises(ValueError, match="padding must be"):
        conv2d(x, pt.tensor("w", shape=(2, 3, 1, 1)), padding="causal")
