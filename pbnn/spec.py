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
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pbnn.errors import SpecError
from pbnn.layers import LAYERS, Layer, Shape
from pbnn.likelihoods import Likelihood, get_likelihood
from pbnn.priors import PRIORS, Normal, Prior

if TYPE_CHECKING:
    import numpy as np
    import pymc as pm

_TOP_KEYS = ("name", "description", "likelihood", "prior", "layers")


@dataclass(frozen=True)
class BNN:
    """A Bayesian neural network, described declaratively.

    Parameters
    ----------
    layers : sequence of :mod:`pbnn.layers` objects, applied in order.
    prior : a :mod:`pbnn.priors` object for every weight and bias (default ``Normal(1.0)``).
    likelihood : ``"bernoulli"``, ``"categorical"`` or ``"normal"``.
    name, description : free text shown in summaries and stored with every fit.
    """

    layers: tuple[Layer, ...]
    prior: Prior = field(default_factory=Normal)
    likelihood: str = "bernoulli"
    name: str = "bnn"
    description: str = ""

    def __post_init__(self) -> None:
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
        last = [layer for layer in self.layers if layer.has_params]
        if not last:
            raise SpecError("layers: expected at least one layer with weights (e.g. Dense)")
        self.likelihood_.check_units(last[-1].units)
        for name in ("name", "description"):
            if not isinstance(getattr(self, name), str):
                raise SpecError(f"{name}: expected a string, got {getattr(self, name)!r}")

    # -- structure ---------------------------------------------------------------------------
    @property
    def likelihood_(self) -> Likelihood:
        """The :class:`~pbnn.likelihoods.Likelihood` object named by ``likelihood``."""
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
        shapes, shape = [], tuple(input_shape)
        for i, layer in enumerate(self.layers, start=1):
            try:
                shape = layer.output_shape(shape)
            except SpecError as err:
                raise SpecError(f"layers[{i}] {layer.describe()}: {err}") from None
            shapes.append(shape)
        return shapes

    def n_params(self, input_shape: Shape) -> int:
        """Total number of weights and biases for inputs of ``input_shape``."""
        shapes = [tuple(input_shape), *self.output_shapes(input_shape)]
        return sum(layer.n_params(shape) for layer, shape in zip(self.layers, shapes, strict=False))

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
        layers = []
        for layer in self.layers:
            entry: dict[str, Any] = {"kind": layer.kind}
            entry.update({f.name: getattr(layer, f.name) for f in fields(layer)})
            layers.append(entry)
        return {
            "name": self.name,
            "description": self.description,
            "likelihood": self.likelihood,
            "prior": self.prior.to_dict(),
            "layers": layers,
        }

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
            raise SpecError(f"layers: expected a list of [[layers]] tables, got {layers_data!r}")
        layers = [
            _from_table(f"layers[{i}]", entry, LAYERS)
            for i, entry in enumerate(layers_data, start=1)
        ]
        prior = _from_table("prior", data.get("prior", {"kind": "normal"}), PRIORS)
        rest = {k: data[k] for k in ("name", "description", "likelihood") if k in data}
        return cls(layers=tuple(layers), prior=prior, **rest)

    def to_toml(self) -> str:
        """The spec as a TOML document (the format of the zoo's ``models/*.toml``)."""
        d = self.to_dict()
        lines = [f"{k} = {_toml_value(d[k])}" for k in ("name", "description", "likelihood")]
        lines += ["", "[prior]"] + [f"{k} = {_toml_value(v)}" for k, v in d["prior"].items()]
        for layer in d["layers"]:
            lines += ["", "[[layers]]"] + [f"{k} = {_toml_value(v)}" for k, v in layer.items()]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_toml(cls, text: str, *, source: str = "<string>") -> BNN:
        """Parse a TOML document written by :meth:`to_toml` or by hand."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise SpecError(f"{source}: not valid TOML: {err}") from None
        try:
            return cls.from_dict(data)
        except SpecError as err:
            raise SpecError(f"{source}: {err}") from None

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_toml` to ``path``."""
        path = Path(path)
        path.write_text(self.to_toml())
        return path

    # -- display -----------------------------------------------------------------------------
    def summary(self, input_shape: Shape | None = None) -> str:
        """A table of layers, output shapes and parameter counts (shapes need ``input_shape``)."""
        head = f"BNN {self.name!r}: prior {self.prior.describe()}, likelihood {self.likelihood!r}"
        rows = [("layer", "output shape", "params")]
        shapes = self.output_shapes(input_shape) if input_shape is not None else None
        prev = tuple(input_shape) if input_shape is not None else None
        for i, layer in enumerate(self.layers):
            if shapes is None:
                rows.append((layer.describe(), "?", "?"))
                continue
            rows.append((layer.describe(), str(shapes[i]), str(layer.n_params(prev))))
            prev = shapes[i]
        widths = [max(len(r[c]) for r in rows) for c in range(3)]
        body = ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
        total = f"  total parameters: {self.n_params(input_shape)}" if input_shape is not None else ""
        return "\n".join([head, *body] + ([total] if total else []))

    def __repr__(self) -> str:
        layers = ", ".join(layer.describe() for layer in self.layers)
        return f"BNN({self.name!r}: [{layers}], prior={self.prior.describe()}, likelihood={self.likelihood!r})"

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.summary())}</pre>"


def load_spec(path: str | Path) -> BNN:
    """Read a spec from a TOML file (e.g. ``models/two_layer_tanh.toml``).

    >>> import pbnn
    >>> pbnn.load_spec(pbnn.zoo.path("two_layer_tanh")).name
    'two_layer_tanh'
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"spec file {str(path)!r} does not exist")
    return BNN.from_toml(path.read_text(), source=str(path))


def _check_keys(where: str, table: dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise SpecError(
            f"{where}: unknown key {unknown[0]!r}; expected keys are {', '.join(allowed)}"
        )


def _from_table(where: str, table: Any, registry: dict[str, type]) -> Any:
    if not isinstance(table, dict):
        raise SpecError(f"{where}: expected a table, got {table!r}")
    kind = table.get("kind")
    if kind not in registry:
        raise SpecError(
            f"{where}.kind: unknown kind {kind!r}; expected one of {', '.join(registry)}"
        )
    cls = registry[kind]
    names = [f.name for f in fields(cls)]
    _check_keys(where, table, ["kind", *names])
    kwargs = {k: v for k, v in table.items() if k != "kind"}
    for name, value in kwargs.items():
        expected = {f.name: f.type for f in fields(cls)}[name]
        if expected in ("float",) and isinstance(value, int) and not isinstance(value, bool):
            kwargs[name] = float(value)
    try:
        return cls(**kwargs)
    except SpecError as err:
        raise SpecError(f"{where}: {err}") from None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SpecError(f"cannot write the non-finite number {value!r} to TOML")
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise SpecError(f"cannot write {value!r} ({type(value).__name__}) to TOML")
