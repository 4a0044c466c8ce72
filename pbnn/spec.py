"""`BNN`: a network spec (layers + prior + likelihood) as plain validated data, with a TOML round trip.

>>> import pbnn
>>> from pbnn import layers as L, priors as P
>>> spec = pbnn.BNN([L.Dense(5, activation="tanh"), L.Dense(1)], prior=P.Normal(1.0))
>>> spec.output_shapes((2,))
[(5,), (1,)]
>>> pbnn.BNN.from_toml(spec.to_toml()) == spec
True
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pbnn.errors import SpecError
from pbnn.layers import LAYERS, Dense, Layer, Shape
from pbnn.likelihoods import Likelihood, get_likelihood
from pbnn.priors import PRIORS, Hierarchical, Normal, Prior

if TYPE_CHECKING:
    import numpy as np
    import pymc as pm

    from pbnn.vae.spec import VAE

_TOP_KEYS = ("name", "description", "likelihood", "prior", "layers", "fit")
#: The method a spec's fit settings are for when their table names none (:func:`pbnn.fit`'s default).
DEFAULT_METHOD = "advi"
#: Arguments of :func:`pbnn.fit` that belong to the caller, not to a model's fit settings.
_CALLER_ARGS = ("seed", "progressbar", "classes")

#: Limits on spec files: the zoo's largest is 1 KB and nests 4 levels (spec, layers, a layer, its prior table).
MAX_SPEC_BYTES = 1 << 20
MAX_SPEC_DEPTH = 16


@dataclass(frozen=True)
class BNN:
    """A Bayesian neural network, described declaratively.

    Parameters
    ----------
    layers : sequence of :mod:`pbnn.layers` objects, applied in order.
    prior : a :mod:`pbnn.priors` object for every weight and bias (default ``Normal(1.0)``); a
        ``Dense(..., prior=...)`` overrides it for that layer.
    likelihood : a name of :data:`pbnn.likelihoods.LIKELIHOODS` (``"bernoulli"``, ``"categorical"``,
        ``"normal"``, ...) or a :mod:`pbnn.likelihoods` object with other hyperpriors, e.g.
        ``Normal(noise_scale=2.0)``. An object at its defaults is stored as its name, so that both
        spellings give equal specs and the short TOML form.
    name, description : free text shown in summaries and stored with every fit.
    fit_settings : the settings that make this model work, used by :func:`pbnn.fit` and the CLI unless
        the caller passes others: ``method`` (default ``"advi"``) and options of that method (``steps``,
        ``batch_size``, ``learning_rate``, ``final_learning_rate``, ``init_scale``, ``draws``, ...),
        and ``standardize``. The ``[fit]`` table of a TOML file. A call with another method uses
        none of them but ``standardize``.
    """

    layers: tuple[Layer, ...]
    prior: Prior = field(default_factory=Normal)
    likelihood: str | Likelihood = "bernoulli"
    name: str = "bnn"
    description: str = ""
    fit_settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fit_settings", _check_fit_settings(self.fit_settings))
        if isinstance(self.layers, Layer) or not isinstance(self.layers, Sequence):
            raise SpecError(f"layers: expected a list of layers, got {type(self.layers).__name__}")
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise SpecError("layers: expected at least one layer, got an empty list")
        for i, layer in enumerate(self.layers, start=1):
            if not isinstance(layer, Layer):
                raise SpecError(f"layers[{i}]: expected a pbnn.layers object, got {layer!r}")
        if not isinstance(self.prior, Prior):
            raise SpecError(f"prior: expected a pbnn.priors object, got {self.prior!r}")
        last = [(i, layer) for i, layer in enumerate(self.layers, start=1) if layer.has_params]
        if not last:
            raise SpecError("layers: expected at least one layer with weights (e.g. Dense)")
        i, layer = last[-1]
        if not isinstance(layer, Dense):
            raise SpecError(
                f"layers[{i}] {layer.describe()}: the last layer with weights must be a Dense layer "
                "(its units are the likelihood's outputs); add e.g. Dense(10) after it"
            )
        likelihood = get_likelihood(self.likelihood)
        short = likelihood.to_value()
        object.__setattr__(self, "likelihood", short if isinstance(short, str) else likelihood)
        likelihood.check_units(layer.units)
        _check_hierarchical_scales(self)
        for name in ("name", "description"):
            if not isinstance(getattr(self, name), str):
                raise SpecError(f"{name}: expected a string, got {getattr(self, name)!r}")

    # -- structure ---------------------------------------------------------------------------
    @property
    def likelihood_(self) -> Likelihood:
        """The :class:`~pbnn.likelihoods.Likelihood` object of ``likelihood``."""
        return get_likelihood(self.likelihood)

    @property
    def task(self) -> str:
        return self.likelihood_.task

    @property
    def output_units(self) -> int:
        return [layer for layer in self.layers if layer.has_params][-1].units

    def output_shapes(self, input_shape: Shape) -> list[Shape]:
        """Each layer's output shape for inputs of ``input_shape`` (without the observation axis).

        Raises :class:`~pbnn.errors.SpecError` naming the first layer that does not fit.
        """
        return layer_shapes(self.layers, input_shape, "layers")

    def n_params(self, input_shape: Shape) -> int:
        """Total number of weights and biases for inputs of ``input_shape``."""
        shapes = [tuple(input_shape), *self.output_shapes(input_shape)]
        return sum(layer.n_params(shape) for layer, shape in zip(self.layers, shapes, strict=False))

    @property
    def fit_method(self) -> str:
        """The method of :attr:`fit_settings` (``"advi"`` when it names none)."""
        return self.fit_settings.get("method", DEFAULT_METHOD)

    def fit_options(self, method: str) -> dict[str, Any]:
        """The options :attr:`fit_settings` gives ``method``: all of them for :attr:`fit_method`, else
        ``standardize`` only (when set).

        >>> import pbnn
        >>> pbnn.zoo.conv().fit_options("advi")["final_learning_rate"], pbnn.zoo.conv().fit_options("map")
        (0.001, {})
        """
        options = {k: v for k, v in self.fit_settings.items() if k != "method"}
        if method != self.fit_method:
            options = {k: v for k, v in options.items() if k == "standardize"}
        return options

    # -- building ----------------------------------------------------------------------------
    def build(self, X: np.ndarray, y: np.ndarray, *, batch_size: int | None = None) -> pm.Model:
        """Compile this spec into a plain :class:`pymc.Model` on data ``X``, ``y``.

        Inputs and targets are ``pm.Data`` named ``X`` and ``target``; the network output is a
        ``Deterministic`` (``p`` or ``mu``). See :func:`pbnn.compile.build_model`.
        """
        from pbnn.compile import build_model

        return build_model(self, X, y, batch_size=batch_size)

    # -- serialization -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "description": self.description,
            "likelihood": self.likelihood_.to_value(),
            "prior": self.prior.to_dict(),
            "layers": [layer_table(layer) for layer in self.layers],
        }
        if self.fit_settings:
            out["fit"] = dict(self.fit_settings)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BNN:
        """Build a spec from :meth:`to_dict`'s form; unknown keys and kinds are errors."""
        if not isinstance(data, dict):
            raise SpecError(f"spec: expected a table, got {type(data).__name__}")
        _check_keys("spec", data, _TOP_KEYS)
        if "layers" not in data:
            raise SpecError("layers: missing; expected a list of [[layers]] tables")
        layers_data = data["layers"]
        if not isinstance(layers_data, list):
            raise SpecError(f"layers: expected a list of [[layers]] tables, got {layers_data!r}", table="spec", key="layers")
        layers = [
            _from_table(f"layers[{i}]", entry, LAYERS)
            for i, entry in enumerate(layers_data, start=1)
        ]
        prior = _from_table("prior", data.get("prior", {"kind": "normal"}), PRIORS)
        rest = {k: data[k] for k in ("name", "description", "likelihood") if k in data}
        if "fit" in data:
            rest["fit_settings"] = data["fit"]
        try:
            return cls(layers=tuple(layers), prior=prior, **rest)
        except SpecError as err:
            key = str(err).split(":", 1)[0]
            if key.startswith("likelihood."):  # a hyperprior of a [likelihood] table
                raise SpecError(str(err), table="likelihood", key=key.split(".", 1)[1]) from None
            if key.startswith("fit."):
                raise SpecError(str(err), table="fit", key=key[4:]) from None
            raise SpecError(str(err), table="spec", key=key if key in rest else None) from None

    def to_toml(self) -> str:
        """The spec as a TOML document (the format of the zoo's ``models/*.toml``).

        The text is checked to read back as this very spec, so that nothing is written that cannot be
        loaded again; a :class:`~pbnn.errors.SpecError` says what does not survive the round trip.
        """
        d = self.to_dict()
        lines = [_toml_line("", k, d[k]) for k in ("name", "description", "likelihood") if not isinstance(d[k], dict)]
        lines += ["", "[prior]"] + [_toml_line("prior.", k, v) for k, v in d["prior"].items()]
        if isinstance(d["likelihood"], dict):  # non-default hyperpriors
            lines += ["", "[likelihood]"] + [_toml_line("likelihood.", k, v) for k, v in d["likelihood"].items()]
        for i, layer in enumerate(d["layers"], start=1):
            lines += ["", "[[layers]]"] + [_toml_line(f"layers[{i}].", k, v) for k, v in layer.items()]
        if "fit" in d:
            lines += ["", "[fit]"] + [_toml_line("fit.", k, v) for k, v in d["fit"].items()]
        text = "\n".join(lines) + "\n"
        try:
            back = BNN.from_toml(text)
        except SpecError as err:
            raise SpecError(f"spec {self.name!r}: its TOML does not read back ({err})") from None
        if back != self:
            changed = [k for k, v in back.to_dict().items() if v != d[k]]
            raise SpecError(f"spec {self.name!r}: {', '.join(changed) or 'a field'} would read back from TOML changed")
        return text

    @classmethod
    def from_toml(cls, text: str, *, source: str = "<string>") -> BNN:
        """Parse a TOML document written by :meth:`to_toml` or by hand.

        Documents over :data:`MAX_SPEC_BYTES` or nested deeper than :data:`MAX_SPEC_DEPTH` are refused.
        """
        return from_parsed(cls, parse_toml(text, source=source), text, source)

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_toml` to ``path``."""
        path = Path(path)
        path.write_text(self.to_toml())
        return path

    # -- display -----------------------------------------------------------------------------
    def summary(self, input_shape: Shape | None = None) -> str:
        """A table of layers, output shapes and parameter counts (the last two need ``input_shape``).

        >>> import pbnn
        >>> print(pbnn.zoo.two_layer_tanh().summary((2,)))
        BNN 'two_layer_tanh': prior Normal(sigma=1.0), likelihood 'bernoulli'
          layer                        output shape  params
          Dense(5, tanh, no bias)      (5,)          10
          Dense(5, tanh, no bias)      (5,)          25
          Dense(1, identity, no bias)  (1,)          5
          total parameters: 40
        """
        head = f"BNN {self.name!r}: prior {self.prior.describe()}, likelihood {self.likelihood!r}"
        if input_shape is None:
            layers = [f"  {layer.describe()}" for layer in self.layers]
            return "\n".join([head, *layers, "  (output shapes and parameter counts: summary(input_shape))"])
        rows = [("layer", "output shape", "params")]
        shapes = [tuple(input_shape), *self.output_shapes(input_shape)]
        for layer, before, after in zip(self.layers, shapes, shapes[1:]):
            rows.append((layer.describe(), str(after), str(layer.n_params(before))))
        widths = [max(len(r[c]) for r in rows) for c in range(3)]
        body = ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        return "\n".join([head, *body, f"  total parameters: {self.n_params(input_shape)}"])

    def __repr__(self) -> str:
        layers = ", ".join(layer.describe() for layer in self.layers)
        return f"BNN({self.name!r}: [{layers}], prior={self.prior.describe()}, likelihood={self.likelihood!r})"

    def _repr_html_(self, input_shape: Shape | None = None) -> str:
        """Jupyter's display: :meth:`summary`, with shapes and parameter counts when ``input_shape`` is given
        (a :class:`~pbnn.results.Fit` displays its spec so)."""
        import html

        return f"<pre>{html.escape(self.summary(input_shape))}</pre>"


def load_spec(path: str | Path) -> BNN | VAE:
    """Read a spec from a TOML file (e.g. ``models/two_layer_tanh.toml``): a :class:`BNN`, or a
    :class:`pbnn.VAE` when the file says ``kind = "vae"`` (``models/vae/vae_digits.toml``).

    >>> import pbnn
    >>> pbnn.load_spec(pbnn.zoo.path("two_layer_tanh")).name
    'two_layer_tanh'
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"spec file {str(path)!r} is a directory; expected a .toml file "
                                "(a saved run is read with pbnn.load)")
    if not path.is_file():
        raise FileNotFoundError(f"spec file {str(path)!r} does not exist")
    size = path.stat().st_size
    if size > MAX_SPEC_BYTES:
        raise SpecError(f"{path}: {size} bytes, more than a spec file may have ({MAX_SPEC_BYTES})")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SpecError(f"{path}: not a TOML text file (byte 0x{data[err.start]:02x} at offset {err.start} "
                        "is not UTF-8)") from None
    return spec_from_toml(text, source=str(path))


#: Spec classes by the top-level ``kind`` key of a spec file; a file without one is a :class:`BNN`.
SPEC_KINDS: dict[str, str] = {"vae": "pbnn.vae.spec:VAE"}


def spec_from_toml(text: str, *, source: str = "<string>") -> Any:
    """The spec of a TOML document: a :class:`BNN`, or the spec its top-level ``kind`` names
    (``kind = "vae"``: a :class:`pbnn.VAE`).

    >>> import pbnn
    >>> type(spec_from_toml(pbnn.zoo.vae_digits().to_toml())).__name__
    'VAE'
    """
    data = parse_toml(text, source=source)
    kind = data.get("kind")
    if kind is None:
        return from_parsed(BNN, data, text, source)
    if not isinstance(kind, str) or kind not in SPEC_KINDS:
        line = _line_of(text, "spec", "kind")
        where = f"{source}, line {line}" if line else source
        raise SpecError(f"{where}: kind: unknown spec kind {kind!r}; expected one of {', '.join(SPEC_KINDS)} "
                        "(a file without kind is a BNN)", table="spec", key="kind")
    import importlib

    module, _, name = SPEC_KINDS[kind].partition(":")
    return from_parsed(getattr(importlib.import_module(module), name), data, text, source)


def parse_toml(text: str, *, source: str = "<string>") -> dict[str, Any]:
    """A spec document's TOML as a dict; documents over :data:`MAX_SPEC_BYTES` or nested deeper than
    :data:`MAX_SPEC_DEPTH` are refused."""
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(f"{source}: {len(text)} characters, more than a spec may have ({MAX_SPEC_BYTES})")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{source}: not valid TOML: {err}") from None
    except RecursionError:
        raise SpecError(f"{source}: arrays or tables nested deeper than Python can parse; "
                        f"a spec nests at most {MAX_SPEC_DEPTH} levels") from None
    if _nesting(data) > MAX_SPEC_DEPTH:
        raise SpecError(f"{source}: arrays or tables nested more than {MAX_SPEC_DEPTH} levels deep; "
                        f"a spec nests at most {MAX_SPEC_DEPTH}")
    return data


def from_parsed(cls: Any, data: dict[str, Any], text: str, source: str) -> Any:
    """``cls.from_dict(data)``, its errors prefixed with ``source`` and the line of ``text`` they point at."""
    try:
        return cls.from_dict(data)
    except SpecError as err:
        line = _line_of(text, err.table, err.key)
        where = f"{source}, line {line}" if line else source
        raise SpecError(f"{where}: {err}", table=err.table, key=err.key) from None


def layer_shapes(layers: Sequence[Layer], input_shape: Shape, where: str) -> list[Shape]:
    """Each layer's output shape for inputs of ``input_shape``; a :class:`SpecError` names the first layer
    that does not fit as ``{where}[i]`` (1-based)."""
    shapes, shape = [], tuple(input_shape)
    for i, layer in enumerate(layers, start=1):
        try:
            shape = layer.output_shape(shape)
        except SpecError as err:
            raise SpecError(f"{where}[{i}] {layer.describe()}: {err}") from None
        shapes.append(shape)
    return shapes


def layer_table(layer: Layer) -> dict[str, Any]:
    """A layer as its TOML table: ``kind`` and every field not at None (TOML has no null: a field left at None,
    e.g. a pool's stride, is omitted and reads back as its default); a layer's own prior as an inline table."""
    entry: dict[str, Any] = {"kind": layer.kind}
    entry.update({f.name: getattr(layer, f.name) for f in fields(layer) if getattr(layer, f.name) is not None})
    if isinstance(entry.get("prior"), Prior):
        entry["prior"] = entry["prior"].to_dict()
    return entry


def _check_keys(where: str, table: dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise SpecError(
            f"{where}: unknown key {unknown[0]!r}; expected keys are {', '.join(allowed)}",
            table=where,
            key=unknown[0],
        )


def _check_fit_settings(settings: Any) -> Mapping[str, Any]:
    """A read-only copy of a spec's fit settings: string keys, scalar values, no caller arguments."""
    if not isinstance(settings, Mapping):
        raise SpecError(f"fit_settings: expected a table of settings (method, steps, ...), got {settings!r}")
    for key, value in settings.items():
        if not isinstance(key, str):
            raise SpecError(f"fit_settings: expected names as keys, got {key!r}")
        if key in _CALLER_ARGS:
            raise SpecError(f"fit.{key}: {key} is an argument of each call of pbnn.fit, not a setting of the model")
        if key == "method" and not isinstance(value, str):
            raise SpecError(f"fit.method: expected a method name such as \"advi\", got {value!r}")
        if key == "standardize" and not isinstance(value, bool):
            raise SpecError(f"fit.standardize: expected true or false, got {value!r}")
        if not isinstance(value, bool | int | float | str):
            raise SpecError(f"fit.{key}: expected a number, a string or true/false, got {value!r}")
    return FitSettings(settings)


class FitSettings(Mapping):
    """A read-only, hashable table of fit settings (:attr:`BNN.fit_settings`)."""

    def __init__(self, settings: Mapping[str, Any] = ()) -> None:
        self._settings = dict(settings)

    def __getitem__(self, key: str) -> Any:
        return self._settings[key]

    def __iter__(self):
        return iter(self._settings)

    def __len__(self) -> int:
        return len(self._settings)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._settings.items())))

    def __repr__(self) -> str:
        return f"FitSettings({self._settings!r})"


def _check_hierarchical_scales(spec: BNN) -> None:
    """Layers under Hierarchical priors share one ``layer_sigma`` variable, hence one hyperprior scale."""
    scales = {
        prior.scale
        for prior in (getattr(layer, "prior", None) or spec.prior for layer in spec.layers if layer.has_params)
        if isinstance(prior, Hierarchical)
    }
    if len(scales) > 1:
        raise SpecError(
            f"prior: layers under Hierarchical priors must share one scale, got scales {sorted(scales)}"
        )


def _from_table(where: str, table: Any, registry: dict[str, type]) -> Any:
    if not isinstance(table, dict):
        raise SpecError(f"{where}: expected a table, got {table!r}")
    kind = table.get("kind")
    if kind not in registry:
        raise SpecError(
            f"{where}.kind: unknown kind {kind!r}; expected one of {', '.join(registry)}",
            table=where,
            key="kind",
        )
    cls = registry[kind]
    names = [f.name for f in fields(cls)]
    _check_keys(where, table, ["kind", *names])
    kwargs = {k: v for k, v in table.items() if k != "kind"}
    if isinstance(kwargs.get("prior"), dict):  # a layer's own prior, e.g. prior = {kind = "laplace", b = 0.1}
        kwargs["prior"] = _from_table(f"{where}.prior", kwargs["prior"], PRIORS)
    for name, value in kwargs.items():
        expected = {f.name: f.type for f in fields(cls)}[name]
        if expected in ("float",) and isinstance(value, int) and not isinstance(value, bool):
            kwargs[name] = float(value)
    try:
        return cls(**kwargs)
    except SpecError as err:  # "Dense.units: expected ..." names the field
        key = next((n for n in names if str(err).startswith(f"{cls.__name__}.{n}:")), None)
        raise SpecError(f"{where}: {err}", table=where, key=key) from None


def _line_of(text: str, table: str | None, key: str | None) -> int | None:
    """The 1-based line of ``key`` in ``table`` (``"spec"`` = top level, ``"layers[2]"``) of TOML ``text``."""
    if table is None or key is None:
        return None
    current, counts = "spec", {}
    pattern = re.compile(rf"""\s*(["']?){re.escape(key)}\1\s*=""")
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"\s*(\[\[?)\s*([^\]]+?)\s*\]", line)
        if header and header[1] == "[[":  # an array of tables: layers[1], layers[2], encoder[1], ...
            counts[header[2]] = counts.get(header[2], 0) + 1
            current = f"{header[2]}[{counts[header[2]]}]"
        elif header:
            current = header[2]
        elif current == table and pattern.match(line):
            return number
    return None


def _nesting(data: Any) -> int:
    """How deeply tables and arrays nest in parsed TOML ``data`` (a scalar: 0), counted without recursion
    up to ``MAX_SPEC_DEPTH + 1``."""
    deepest, stack = 0, [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth + 1)
            if depth + 1 <= MAX_SPEC_DEPTH:  # deeper is refused anyway
                stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


#: TOML basic-string escapes; every other control character (U+0000-U+001F, U+007F) is written as ``\uXXXX``.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _toml_string(value: str) -> str:
    """``value`` as a TOML basic string; a lone surrogate (not text, no UTF-8 form) is a SpecError."""
    out = []
    for char in value:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            raise SpecError(f"cannot write the string {value!r} to TOML: it holds a lone surrogate {char!r}, not text")
        out.append(_ESCAPES.get(char) or (f"\\u{code:04x}" if code < 0x20 or code == 0x7F else char))
    return '"' + "".join(out) + '"'


def _toml_line(where: str, key: str, value: Any) -> str:
    try:
        return f"{key} = {_toml_value(value)}"
    except SpecError as err:
        raise SpecError(f"{where}{key}: {err}") from None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SpecError(f"cannot write the non-finite number {value!r} to TOML")
        return repr(float(value))
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table, e.g. a layer's prior
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise SpecError(f"cannot write {value!r} ({type(value).__name__}) to TOML")
