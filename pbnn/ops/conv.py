"""2-D convolution and pooling built from PyTensor primitives.

PyTensor 3 no longer ships CNN convolution / pooling ops, so these are
composed from ops every backend (C/Python, NUMBA, JAX) supports and that
PyTensor can differentiate and vectorize:

* ``conv2d`` is an *im2col* convolution: the ``kh * kw`` strided slices of the
  (zero padded) input are stacked into patches and contracted with the
  reshaped filters in ONE ``pt.matmul``.
* ``max_pool2d`` / ``avg_pool2d`` combine the ``ph * pw`` strided window
  slices elementwise (``pt.maximum`` / ``+``), which PyTensor fuses into a
  single loop. Chained ``pt.maximum`` routes the gradient of a tied window to
  exactly one element (the first maximum in row-major order) -- a valid
  subgradient, unlike ``pt.max`` which gives it to every tied element.

All layouts are channels-first: inputs ``(N, C, H, W)``, filters
``(F, C, kh, kw)``. The graphs only depend on *static* kernel sizes, never on
symbolic input shapes, so ``pytensor.graph.replace.vectorize_graph`` can add
leading batch (posterior-draw) dimensions to the filters and/or the input:
``(S, F, C, kh, kw)`` filters give ``(S, N, F, H_out, W_out)`` outputs.

Static shapes: the kernel size ``(kh, kw)`` must be static. ``padding="same"``
with a stride > 1 also needs static ``H``/``W`` of ``x``; and under JAX (which
cannot reshape to traced sizes) ``conv2d`` needs static ``C``, ``H`` and ``W``
(``N`` may stay dynamic), e.g. ``pt.specify_shape(x, (None, C, H, W))``.

The pure-Python helpers ``conv2d_output_shape`` / ``pool2d_output_shape``
compute output sizes (and validate arguments) without PyTensor.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import pytensor.tensor as pt
from pytensor.tensor.basic import get_underlying_scalar_constant_value
from pytensor.tensor.exceptions import NotScalarConstantError
from pytensor.tensor.variable import TensorVariable

__all__ = [
    "avg_pool2d",
    "conv2d",
    "conv2d_output_shape",
    "max_pool2d",
    "pool2d_output_shape",
]

IntPair = int | tuple[int, int]
Padding = str | int | tuple[int, int]

_PAIR_FORM = "a positive int or a pair of positive ints (h, w)"
_NONNEG_PAIR_FORM = "a non-negative int or a pair of non-negative ints (h, w)"
_PADDING_FORM = "'valid', 'same', a non-negative int or a pair of non-negative ints (ph, pw)"


# --------------------------------------------------------------------------
# argument validation and pure-Python shape arithmetic
# --------------------------------------------------------------------------
def _is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _pair(value: object, name: str, *, allow_zero: bool = False) -> tuple[int, int]:
    """Normalise an int or a pair of ints to ``(h, w)``, validating it."""
    lo = 0 if allow_zero else 1
    if _is_int(value):
        items = (value, value)
    elif (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) == 2
        and all(_is_int(v) for v in value)
    ):
        items = tuple(value)
    else:
        items = None
    if items is None or any(int(v) < lo for v in items):
        form = _PAIR_FORM if not allow_zero else _NONNEG_PAIR_FORM
        raise ValueError(f"{name} must be {form}, got {value!r}")
    return int(items[0]), int(items[1])


def _normalize_padding(padding: object) -> str | tuple[int, int]:
    """Return ``"valid"``, ``"same"`` or an explicit ``(ph, pw)`` pair."""
    if isinstance(padding, str):
        p = padding.lower()
        if p in ("valid", "same"):
            return p
        raise ValueError(f"padding must be {_PADDING_FORM}, got {padding!r}")
    try:
        return _pair(padding, "padding", allow_zero=True)
    except ValueError:
        raise ValueError(f"padding must be {_PADDING_FORM}, got {padding!r}") from None


def _same_pad(size: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow/Keras "same" padding: ``(before, after)``, extra pixel after."""
    out = -(-size // s)  # ceil(size / s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _resolve_padding(
    in_hw: tuple[int | None, int | None] | None,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: str | tuple[int, int],
) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) zero padding for a normalised padding spec."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        pads = []
        for a in range(2):
            if stride[a] == 1:  # independent of the input size: total k - 1
                pads.append(((kernel[a] - 1) // 2, kernel[a] - 1 - (kernel[a] - 1) // 2))
            elif in_hw is None or in_hw[a] is None:
                raise ValueError(
                    "padding='same' with stride > 1 needs the static spatial size of x; "
                    "give x a static shape, e.g. pt.specify_shape(x, (None, None, H, W))"
                )
            else:
                pads.append(_same_pad(in_hw[a], kernel[a], stride[a]))
        return pads[0], pads[1]
    ph, pw = padding
    return (ph, ph), (pw, pw)


def _check_fits(padded_hw: tuple[int, int], window: tuple[int, int], name: str, after_padding: bool) -> None:
    if window[0] > padded_hw[0] or window[1] > padded_hw[1]:
        suffix = " (after padding)" if after_padding else ""
        raise ValueError(f"{name} {tuple(window)} is larger than the input {tuple(padded_hw)}{suffix}")


def conv2d_output_shape(
    in_hw: IntPair,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: Padding = "valid",
) -> tuple[int, int]:
    """Spatial output size ``(H_out, W_out)`` of :func:`conv2d`.

    ``"valid"``: ``(H - kh) // sh + 1``; ``"same"``: ``ceil(H / sh)``;
    explicit ``p``: ``(H + 2 p - kh) // sh + 1``.

    >>> conv2d_output_shape((28, 28), 3, 1, "same")
    (28, 28)
    >>> conv2d_output_shape((7, 5), (3, 2), (2, 1), "valid")
    (3, 4)

    Raises ``ValueError`` for malformed arguments or when the kernel is larger
    than the (padded) input.
    """
    hw = _pair(in_hw, "in_hw")
    k = _pair(kernel_size, "kernel_size")
    s = _pair(stride, "stride")
    pad = _normalize_padding(padding)
    (pt_, pb), (pl, pr) = _resolve_padding(hw, k, s, pad)
    padded = (hw[0] + pt_ + pb, hw[1] + pl + pr)
    _check_fits(padded, k, "kernel_size", after_padding=True)
    return (padded[0] - k[0]) // s[0] + 1, (padded[1] - k[1]) // s[1] + 1


def pool2d_output_shape(
    in_hw: IntPair,
    pool_size: IntPair,
    stride: IntPair | None = None,
) -> tuple[int, int]:
    """Spatial output size ``(H_out, W_out)`` of the pooling ops ("valid", floor).

    ``H_out = (H - ph) // sh + 1``; ``stride`` defaults to ``pool_size``.

    >>> pool2d_output_shape((7, 5), 2)
    (3, 2)
    >>> pool2d_output_shape((7, 5), 3, stride=(2, 1))
    (3, 3)
    """
    hw = _pair(in_hw, "in_hw")
    p = _pair(pool_size, "pool_size")
    s = p if stride is None else _pair(stride, "stride")
    _check_fits(hw, p, "pool_size", after_padding=False)
    return (hw[0] - p[0]) // s[0] + 1, (hw[1] - p[1]) // s[1] + 1


# --------------------------------------------------------------------------
# symbolic helpers
# --------------------------------------------------------------------------
def _static_dim(var: TensorVariable, axis: int) -> int | None:
    """Static length of ``var`` along ``axis`` if it can be determined."""
    dim = var.type.shape[axis]
    if dim is not None:
        return int(dim)
    try:
        return int(get_underlying_scalar_constant_value(var.shape[axis]))
    except NotScalarConstantError:
        return None


def _as_4d(x: object, name: str, form: str) -> TensorVariable:
    x = pt.as_tensor_variable(x)
    if x.type.ndim != 4:
        raise ValueError(f"{name} must be a 4-d tensor {form}, got ndim={x.type.ndim}")
    return x


def _pad_axis(x: TensorVariable, axis: int, before: int, after: int) -> TensorVariable:
    """Zero-pad ``x`` along ``axis`` by concatenation.

    The zero blocks are derived from ``x`` itself (``zeros_like`` of a slice),
    so no symbolic shape enters the graph and it vectorizes cleanly.
    """
    if before == 0 and after == 0:
        return x
    idx = [slice(None)] * x.type.ndim
    idx[axis] = slice(0, 1)
    zero = pt.zeros_like(x[tuple(idx)])
    return pt.concatenate([zero] * before + [x] + [zero] * after, axis=axis)


def _window_slices(
    x: TensorVariable,
    axes: tuple[int, int],
    window: tuple[int, int],
    stride: tuple[int, int],
) -> list[TensorVariable]:
    """The ``kh * kw`` strided slices ``x[..., i::sh, j::sw]`` (row-major over (i, j)).

    Slice ``(i, j)`` has shape ``((H - kh) // sh + 1, (W - kw) // sw + 1)`` on
    ``axes``; the stop index is expressed relative to the end (``i - kh + 1``)
    so no symbolic shape is needed.
    """
    (ah, aw), (kh, kw), (sh, sw) = axes, window, stride
    out = []
    for i in range(kh):
        for j in range(kw):
            idx = [slice(None)] * x.type.ndim
            idx[ah] = slice(i, (i - kh + 1) or None, sh)
            idx[aw] = slice(j, (j - kw + 1) or None, sw)
            out.append(x[tuple(idx)])
    return out


# --------------------------------------------------------------------------
# public ops
# --------------------------------------------------------------------------
def conv2d(
    x: TensorVariable,
    w: TensorVariable,
    *,
    stride: IntPair = 1,
    padding: Padding = "valid",
) -> TensorVariable:
    """2-D cross-correlation (deep-learning "convolution", kernel NOT flipped).

    Parameters
    ----------
    x : tensor, shape ``(N, C, H, W)``
    w : tensor, shape ``(F, C, kh, kw)``; ``kh``/``kw`` must be static
        (known from ``w.type.shape`` or constant-foldable). The channel count
        is taken from whichever of ``x``/``w`` has it static and checked at
        run time. Under JAX, ``x`` needs static ``H`` and ``W``.
    stride : int or ``(sh, sw)``
    padding : ``"valid"``, ``"same"`` (TensorFlow/Keras: output
        ``ceil(H / sh)``, odd extra pixel at the bottom/right), or an explicit
        int / ``(ph, pw)`` symmetric zero padding.

    Returns
    -------
    tensor, shape ``(N, F, H_out, W_out)`` (see :func:`conv2d_output_shape`),
    ``out[n, f, y, x] = sum_{c,i,j} xpad[n, c, y*sh + i, x*sw + j] * w[f, c, i, j]``.
    No bias is added.

    Example
    -------
    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> x = pt.tensor4("x"); w = pt.tensor("w", shape=(2, 1, 3, 3))
    >>> f = pytensor.function([x, w], conv2d(x, w, padding="same"))
    >>> f(np.ones((1, 1, 4, 4)), np.ones((2, 1, 3, 3))).shape
    (1, 2, 4, 4)
    """
    x = _as_4d(x, "x", "(N, C, H, W)")
    w = _as_4d(w, "w", "(F, C, kh, kw)")
    s = _pair(stride, "stride")
    pad = _normalize_padding(padding)

    kh, kw = _static_dim(w, 2), _static_dim(w, 3)
    if kh is None or kw is None:
        raise ValueError(
            "conv2d needs the static kernel size of w (F, C, kh, kw); give w a "
            "static shape, e.g. pt.specify_shape(w, (None, None, kh, kw))"
        )
    c_x, c_w = _static_dim(x, 1), _static_dim(w, 1)
    if c_x is not None and c_w is not None and c_x != c_w:
        raise ValueError(f"x has {c_x} channels but w expects {c_w} (w is (F, C, kh, kw))")
    # A static channel count keeps every reshape below static (JAX needs
    # concrete reshape sizes) and checks the channels at run time.
    if c_x is None and c_w is not None:
        x = pt.specify_shape(x, (None, c_w, None, None))
    elif c_w is None and c_x is not None:
        w = pt.specify_shape(w, (None, c_x, None, None))
    h, wd = _static_dim(x, 2), _static_dim(x, 3)
    (p_t, p_b), (p_l, p_r) = _resolve_padding((h, wd), (kh, kw), s, pad)
    if h is not None and wd is not None:
        _check_fits((h + p_t + p_b, wd + p_l + p_r), (kh, kw), "kernel_size", True)

    # NHWC so that the stacked patches (N, Ho, Wo, kh*kw, C) are contiguous
    xt = x.dimshuffle(0, 2, 3, 1)
    xt = _pad_axis(xt, 1, p_t, p_b)
    xt = _pad_axis(xt, 2, p_l, p_r)
    slices = _window_slices(xt, (1, 2), (kh, kw), s)  # each (N, Ho, Wo, C)
    patches = pt.stack(slices, axis=3)  # (N, Ho, Wo, kh*kw, C)
    patches = pt.join_dims(patches, 3, 2)  # (N, Ho, Wo, K)

    # filters -> (K, F) with K ordered (i, j, c) like the patches
    w_mat = pt.join_dims(w.dimshuffle(2, 3, 1, 0), 0, 3)  # (K, F)
    # The filters get explicit broadcastable batch dims matching the patches'
    # (N, Ho) so that the Blockwise matmul also broadcasts correctly after
    # vectorize_graph prepends posterior-draw dims to w: (S,1,1,K,F).
    # The specialize rewrites turn this into one (N*Ho*Wo, K) @ (K, F) GEMM.
    out = pt.matmul(patches, w_mat[None, None])  # (N, Ho, Wo, F)
    return out.dimshuffle(0, 3, 1, 2)


def _pool(
    x: TensorVariable,
    pool_size: IntPair,
    stride: IntPair | None,
    kind: str,
) -> TensorVariable:
    x = _as_4d(x, "x", "(N, C, H, W)")
    p = _pair(pool_size, "pool_size")
    s = p if stride is None else _pair(stride, "stride")
    h, wd = _static_dim(x, 2), _static_dim(x, 3)
    if h is not None and wd is not None:
        _check_fits((h, wd), p, "pool_size", after_padding=False)
    slices = _window_slices(x, (2, 3), p, s)  # each (N, C, Ho, Wo)
    out = slices[0]
    if kind == "max":
        for sl in slices[1:]:
            out = pt.maximum(out, sl)
        return out
    for sl in slices[1:]:
        out = out + sl
    return out * (1.0 / (p[0] * p[1]))


def max_pool2d(
    x: TensorVariable,
    pool_size: IntPair,
    *,
    stride: IntPair | None = None,
) -> TensorVariable:
    """2-D max pooling, "valid" (floor) semantics.

    ``x``: ``(N, C, H, W)`` -> ``(N, C, (H - ph) // sh + 1, (W - pw) // sw + 1)``;
    ``stride`` defaults to ``pool_size``; trailing rows/cols that do not fill
    a window are dropped (Keras default). The gradient of each window flows
    to its maximum; on ties to exactly one element (the first in row-major
    order), so e.g. a constant shift of the input has gradient 1 per window.

    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> x = pt.tensor4("x")
    >>> f = pytensor.function([x], max_pool2d(x, 2))
    >>> f(np.arange(25.0).reshape(1, 1, 5, 5))[0, 0]
    array([[ 6.,  8.],
           [16., 18.]])
    """
    return _pool(x, pool_size, stride, "max")


def avg_pool2d(
    x: TensorVariable,
    pool_size: IntPair,
    *,
    stride: IntPair | None = None,
) -> TensorVariable:
    """2-D average pooling, "valid" (floor) semantics.

    ``x``: ``(N, C, H, W)`` -> ``(N, C, (H - ph) // sh + 1, (W - pw) // sw + 1)``;
    ``stride`` defaults to ``pool_size``; trailing rows/cols that do not fill
    a window are dropped (Keras default).

    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> x = pt.tensor4("x")
    >>> f = pytensor.function([x], avg_pool2d(x, 2))
    >>> f(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    return _pool(x, pool_size, stride, "avg")
