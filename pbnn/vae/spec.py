"""`VAE`: a variational autoencoder as plain validated data (encoder, latent size, decoder, likelihood, decoder
prior), with a TOML round trip; and :class:`VAEOptions`, the options of :func:`pbnn.fit_vae`.

The encoder's layers map an observation to features; pbnn adds the head ``Dense(2 * latent)`` that gives the
mean and (through a softplus with a floor) the scale of ``q(z | x)``. The decoder's layers map ``z`` to
features; pbnn adds the head ``Dense(n_features)`` whose outputs are the likelihood's parameter per feature
(a logit for ``bernoulli``, a mean for ``normal``), its size taken from the data at fit time.

>>> import pbnn
>>> from pbnn import layers as L, priors as P
>>> spec = pbnn.VAE(encoder=[L.Dense(64, activation="relu")], latent=2, decoder=[L.Dense(64, activation="relu")])
>>> spec.bayesian, spec.encoder_stack((1, 8, 8)).output_shapes((1, 8, 8))
(False, [(64,), (4,)])
>>> pbnn.spec.spec_from_toml(spec.to_toml()) == spec  # what pbnn.load_spec does with a file
True
>>> pbnn.VAE(latent=0)
Traceback (most recent call last):
...
pbnn.errors.SpecError: VAE latent: expected a positive integer, got 0
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pbnn.errors import SpecError
from pbnn.inference.methods import Options, device, option, optax_optimizer, optional, positive_int, positive_number
from pbnn.layers import LAYERS, Dense, Layer, Shape
from pbnn.likelihoods import Likelihood, get_likelihood
from pbnn.priors import PRIORS, Normal, Prior
from pbnn.spec import (
    FitSettings,
    _check_keys,
    _from_table,
    _toml_line,
    from_parsed,
    layer_shapes,
    layer_table,
    parse_toml,
)

#: Likelihoods a VAE's data may have (``pbnn.likelihoods`` names): what each models and its support.
VAE_LIKELIHOODS: dict[str, str] = {
    "bernoulli": "values in [0, 1]: binary images, or grey levels read as probabilities (cross-entropy)",
    "normal": "real values, Gaussian noise with one sd per feature (a point estimate)",
}
#: The floor added to the encoder's softplus scale: ``scale = softplus(raw) + MIN_SCALE``.
MIN_SCALE = 1e-4

_TOP_KEYS = ("kind", "name", "description", "latent", "likelihood", "prior", "encoder", "decoder", "fit")


@dataclass(frozen=True)
class VAEOptions(Options):
    """Options of :func:`pbnn.fit_vae` (a VAE spec's ``[fit]`` table holds some of them)."""

    steps: int = option(5000, "optimisation steps (minibatches)", positive_int)
    batch_size: int | None = option(128, "observations per step (None or >= N: the full data)",
                                    optional(positive_int))
    learning_rate: float = option(1e-3, "Adam's learning rate (at the first step)", positive_number)
    final_learning_rate: float | None = option(
        None, "None: a constant rate; else a geometric decay to it at the last step", optional(positive_number))
    mc_samples: int = option(1, "draws of z (and of the decoder's weights) per observation and step", positive_int)
    draws: int = option(100, "draws of q(w) kept in the posterior group (Bayesian decoder)", positive_int)
    init_scale: float = option(1e-3, "initial sd of q(w), the Bayesian decoder's weights", positive_number)
    device: str | None = option(None, "JAX device: None (JAX's default), 'cpu', 'gpu'", device)
    optimizer: Any = option(None, "an optax optimizer instead of Adam at the two rates (None: Adam)",
                            optional(optax_optimizer))


#: Options of :class:`VAEOptions` a spec's ``[fit]`` table may hold (an optimizer object has no TOML form).
FIT_SETTINGS = tuple(f.name for f in fields(VAEOptions) if f.name not in ("optimizer", "device"))


@dataclass(frozen=True)
class Stack:
    """A chain of layers as :mod:`pbnn.network` takes it: ``layers``, the ``prior`` of their weights, and
    :meth:`output_shapes` (``where`` names the layers in errors)."""

    layers: tuple[Layer, ...]
    prior: Prior
    where: str

    def output_shapes(self, input_shape: Shape) -> list[Shape]:
        return layer_shapes(self.layers, input_shape, self.where)


@dataclass(frozen=True)
class VAE:
    """A variational autoencoder: ``p(z) = N(0, I)``, an encoder ``q(z | x)`` and a decoder ``p(x | z)``.

    Parameters
    ----------
    encoder : :mod:`pbnn.layers` objects from an observation to features (may be empty); the head
        ``Dense(2 * latent)`` giving the mean and scale of ``q(z | x)`` is added. Fitted as point weights
        (amortized inference: one network gives ``q(z | x)`` for every observation).
    latent : the size of ``z``, a positive integer.
    decoder : layers from ``z`` to features (may be empty); the head ``Dense(n_features)`` is added, its
        outputs the likelihood's parameter per feature of the data.
    likelihood : the data's likelihood, a name of :data:`VAE_LIKELIHOODS`: ``"bernoulli"`` (values in
        [0, 1]) or ``"normal"``.
    prior : None, a point decoder (the classic VAE); or a :class:`pbnn.priors.Normal` on every weight and
        bias of the decoder, a Bayesian decoder inferred by mean-field VI (a decoder ``Dense(...,
        prior=P.Normal(...))`` overrides it for that layer).
    name, description : free text, stored with every fit.
    fit_settings : options of :func:`pbnn.fit_vae` that make this model work (``steps``, ``batch_size``,
        ``learning_rate``, ...; :data:`FIT_SETTINGS`), used unless the caller passes others. The ``[fit]``
        table of a TOML file.

    >>> from pbnn import layers as L, priors as P
    >>> VAE(encoder=[L.Dense(32, activation="relu")], latent=2, prior=P.Normal(1.0)).bayesian
    True
    """

    encoder: tuple[Layer, ...] = ()
    latent: int = 2
    decoder: tuple[Layer, ...] = ()
    likelihood: str | Likelihood = "bernoulli"
    prior: Prior | None = None
    name: str = "vae"
    description: str = ""
    fit_settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        latent = self.latent
        if isinstance(latent, bool) or not isinstance(latent, numbers.Integral) or latent <= 0:
            raise SpecError(f"VAE latent: expected a positive integer, got {latent!r}")
        object.__setattr__(self, "latent", int(latent))
        for part in ("encoder", "decoder"):
            object.__setattr__(self, part, _check_layers(part, getattr(self, part)))
        if self.prior is not None and not isinstance(self.prior, Normal):
            got = self.prior.describe() if isinstance(self.prior, Prior) else repr(self.prior)
            raise SpecError(f"VAE prior: expected None (a point decoder) or a pbnn.priors.Normal (a Bayesian "
                            f"decoder, mean-field VI with an analytic KL), got {got}")
        for i, layer in enumerate(self.encoder, start=1):
            if getattr(layer, "prior", None) is not None:
                raise SpecError(f"VAE encoder[{i}].prior: the encoder's weights are point estimates (amortized "
                                f"VI) and take no prior; remove the prior of {layer.describe()}")
        for i, layer in enumerate(self.decoder, start=1):
            own = getattr(layer, "prior", None)
            if own is not None and self.prior is None:
                raise SpecError(f"VAE decoder[{i}].prior: a point decoder (prior=None) has no weight priors; set "
                                "the VAE's prior (e.g. P.Normal(1.0)) to make the decoder Bayesian")
            if own is not None and not isinstance(own, Normal):
                raise SpecError(f"VAE decoder[{i}].prior: expected a pbnn.priors.Normal, got {own.describe()}")
        self.decoder_stack().output_shapes((self.latent,))  # a decoder's input is z: (latent,)
        object.__setattr__(self, "likelihood", _check_likelihood(self.likelihood))
        for name in ("name", "description"):
            if not isinstance(getattr(self, name), str):
                raise SpecError(f"VAE {name}: expected a string, got {getattr(self, name)!r}")
        object.__setattr__(self, "fit_settings", _check_fit_settings(self.fit_settings))

    # -- structure ---------------------------------------------------------------------------
    @property
    def bayesian(self) -> bool:
        """Whether the decoder's weights are inferred (a prior is set) rather than point estimates."""
        return self.prior is not None

    @property
    def likelihood_(self) -> Likelihood:
        return get_likelihood(self.likelihood)

    def encoder_stack(self, input_shape: Shape) -> Stack:
        """The encoder's layers with the head ``Dense(2 * latent)``: means, then raw scales."""
        del input_shape  # the head does not depend on it
        return Stack((*self.encoder, Dense(2 * self.latent)), Normal(), "VAE encoder")

    def decoder_stack(self, n_features: int = 1) -> Stack:
        """The decoder's layers with the head ``Dense(n_features)``; its weights' prior (``Normal()`` stands
        in for a point decoder)."""
        return Stack((*self.decoder, Dense(n_features)), self.prior or Normal(), "VAE decoder")

    def check_input_shape(self, input_shape: Shape) -> None:
        """Raise :class:`SpecError` naming the encoder layer that does not take observations of ``input_shape``."""
        self.encoder_stack(input_shape).output_shapes(input_shape)

    def n_params(self, input_shape: Shape) -> dict[str, int]:
        """Weights and biases of the encoder and of the decoder for observations of ``input_shape``.

        >>> import pbnn
        >>> pbnn.zoo.vae_digits().n_params((1, 8, 8))
        {'encoder': 12448, 'decoder': 10432}
        """
        out = {}
        for part, stack, shape in (("encoder", self.encoder_stack(input_shape), tuple(input_shape)),
                                   ("decoder", self.decoder_stack(math.prod(input_shape)), (self.latent,))):
            shapes = [shape, *stack.output_shapes(shape)]
            out[part] = sum(layer.n_params(s) for layer, s in zip(stack.layers, shapes, strict=False))
        return out

    # -- serialization -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "vae", "name": self.name, "description": self.description,
                               "latent": self.latent, "likelihood": self.likelihood_.to_value()}
        if self.prior is not None:
            out["prior"] = self.prior.to_dict()
        out["encoder"] = [layer_table(layer) for layer in self.encoder]
        out["decoder"] = [layer_table(layer) for layer in self.decoder]
        if self.fit_settings:
            out["fit"] = dict(self.fit_settings)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VAE:
        """Build a spec from :meth:`to_dict`'s form; unknown keys and kinds are errors."""
        if not isinstance(data, dict):
            raise SpecError(f"spec: expected a table, got {type(data).__name__}")
        _check_keys("spec", data, _TOP_KEYS)
        if data.get("kind") != "vae":
            raise SpecError(f"kind: expected \"vae\", got {data.get('kind')!r}", table="spec", key="kind")
        parts = {}
        for part in ("encoder", "decoder"):
            tables = data.get(part, [])
            if not isinstance(tables, list):
                raise SpecError(f"{part}: expected a list of [[{part}]] tables, got {tables!r}", table="spec", key=part)
            parts[part] = tuple(_from_table(f"{part}[{i}]", t, LAYERS) for i, t in enumerate(tables, start=1))
        prior = _from_table("prior", data["prior"], PRIORS) if "prior" in data else None
        rest = {k: data[k] for k in ("name", "description", "latent", "likelihood") if k in data}
        if "fit" in data:
            rest["fit_settings"] = data["fit"]
        try:
            return cls(prior=prior, **parts, **rest)
        except SpecError as err:
            message = str(err).removeprefix("VAE ")
            key = message.split(":", 1)[0]
            if key.startswith("fit."):
                raise SpecError(message, table="fit", key=key[4:]) from None
            layer = re.match(r"(encoder|decoder)\[\d+\](\.(\w+))?", key)
            if layer:  # encoder[1].prior, or decoder[1] Conv2D(...): a shape that does not fit
                raise SpecError(message, table=layer[0].split(".")[0], key=layer[3] or "kind") from None
            if key == "prior":
                raise SpecError(message, table="prior", key="kind") from None
            raise SpecError(message, table="spec", key=key if key in rest else None) from None

    def to_toml(self) -> str:
        """The spec as a TOML document (``kind = "vae"``; no ``[prior]`` table: a point decoder), checked to
        read back as this very spec."""
        d = self.to_dict()
        lines = [_toml_line("", k, d[k]) for k in ("kind", "name", "description", "latent", "likelihood")
                 if not isinstance(d[k], dict)]
        if "prior" in d:
            lines += ["", "[prior]"] + [_toml_line("prior.", k, v) for k, v in d["prior"].items()]
        for part in ("encoder", "decoder"):
            for i, layer in enumerate(d[part], start=1):
                lines += ["", f"[[{part}]]"] + [_toml_line(f"{part}[{i}].", k, v) for k, v in layer.items()]
        if "fit" in d:
            lines += ["", "[fit]"] + [_toml_line("fit.", k, v) for k, v in d["fit"].items()]
        text = "\n".join(lines) + "\n"
        back = VAE.from_toml(text)
        if back != self:
            raise SpecError(f"spec {self.name!r}: a field would read back from TOML changed")
        return text

    @classmethod
    def from_toml(cls, text: str, *, source: str = "<string>") -> VAE:
        """Parse a TOML document written by :meth:`to_toml` or by hand."""
        return from_parsed(cls, parse_toml(text, source=source), text, source)

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_toml` to ``path``."""
        path = Path(path)
        path.write_text(self.to_toml())
        return path

    # -- display -----------------------------------------------------------------------------
    def describe_decoder(self) -> str:
        return "point" if self.prior is None else f"Bayesian, prior {self.prior.describe()}"

    def summary(self, input_shape: Shape | None = None) -> str:
        """The encoder and decoder layers (with the heads pbnn adds) and, given ``input_shape``, parameter counts.

        >>> import pbnn
        >>> print(pbnn.zoo.vae_digits().summary((1, 8, 8)))
        VAE 'vae_digits': latent 16, likelihood 'bernoulli', point decoder
          encoder: Dense(128, relu) -> Dense(32, identity) (mean and scale of q(z | x))
          decoder: Dense(128, relu) -> Dense(64, identity) (the likelihood's parameter per feature)
          parameters: encoder 12448, decoder 10432
        """
        n = math.prod(input_shape) if input_shape is not None else "n_features"
        enc = [layer.describe() for layer in self.encoder] + [f"Dense({2 * self.latent}, identity)"]
        dec = [layer.describe() for layer in self.decoder] + [f"Dense({n}, identity)"]
        lines = [f"VAE {self.name!r}: latent {self.latent}, likelihood {self.likelihood!r}, "
                 f"{self.describe_decoder()} decoder",
                 f"  encoder: {' -> '.join(enc)} (mean and scale of q(z | x))",
                 f"  decoder: {' -> '.join(dec)} (the likelihood's parameter per feature)"]
        if input_shape is not None:
            counts = self.n_params(input_shape)
            lines.append(f"  parameters: encoder {counts['encoder']}, decoder {counts['decoder']}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        enc = ", ".join(layer.describe() for layer in self.encoder)
        dec = ", ".join(layer.describe() for layer in self.decoder)
        return (f"VAE({self.name!r}: encoder [{enc}], latent {self.latent}, decoder [{dec}], "
                f"likelihood={self.likelihood!r}, {self.describe_decoder()} decoder)")

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.summary())}</pre>"


def _check_layers(part: str, layers: Any) -> tuple[Layer, ...]:
    if isinstance(layers, Layer) or isinstance(layers, str) or not isinstance(layers, Sequence):
        raise SpecError(f"VAE {part}: expected a list of pbnn.layers objects, got {type(layers).__name__}")
    for i, layer in enumerate(layers, start=1):
        if not isinstance(layer, Layer):
            raise SpecError(f"VAE {part}[{i}]: expected a pbnn.layers object, got {layer!r}")
    return tuple(layers)


def _check_likelihood(value: Any) -> str:
    """The likelihood's name, if it is one of :data:`VAE_LIKELIHOODS` at its default hyperpriors."""
    try:
        likelihood = get_likelihood(value)
    except SpecError as err:
        raise SpecError(f"VAE {err}; a VAE's data take one of {', '.join(VAE_LIKELIHOODS)}") from None
    if likelihood.name not in VAE_LIKELIHOODS:
        raise SpecError(f"VAE likelihood: {likelihood.name!r} is not a likelihood of a VAE's data; expected one of "
                        f"{', '.join(VAE_LIKELIHOODS)}")
    short = likelihood.to_value()
    if not isinstance(short, str):
        raise SpecError(f"VAE likelihood: {likelihood.describe()}: a VAE estimates the likelihood's noise by maximum "
                        f"likelihood and takes no hyperprior; use {likelihood.name!r}")
    return short


def _check_fit_settings(settings: Any) -> FitSettings:
    if not isinstance(settings, Mapping):
        raise SpecError(f"VAE fit_settings: expected a table of settings (steps, batch_size, ...), got {settings!r}")
    for key, value in settings.items():
        if key not in FIT_SETTINGS:
            raise SpecError(f"fit.{key}: not a setting of a VAE; expected some of {', '.join(FIT_SETTINGS)}")
        try:
            VAEOptions(**{key: value})
        except (TypeError, ValueError) as err:
            raise SpecError(f"fit.{err}") from None
    return FitSettings(settings)
