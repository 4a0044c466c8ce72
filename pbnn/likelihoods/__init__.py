"""Likelihoods: what the network's last layer means, which targets it takes and what a prediction holds.

One module per likelihood (its docstring says what it models), registered by its import below: the order
of :data:`LIKELIHOODS` is the order of these imports. :mod:`pbnn.likelihoods.base` holds the base class,
the registry and the lookups; a new likelihood is a module with a registered subclass (:func:`register`) of
:class:`Likelihood` and one import line here.

Gaussian and Student-t targets are standardized by :func:`pbnn.fit` (:mod:`pbnn.scaling`); their priors on
``sigma`` are in those units and predictions come back in the user's units. A spec names a likelihood
(``likelihood = "normal"``) or, to change its hyperpriors, gives a table (TOML ``[likelihood]`` with
``name = "normal"`` and ``noise_scale = 2.0``; Python ``Normal(noise_scale=2.0)``).

>>> from pbnn.likelihoods import LIKELIHOODS, get_likelihood
>>> LIKELIHOODS["categorical"].outputs
('p',)
>>> get_likelihood({"name": "student_t", "nu_shape": 3}).describe()
'student_t(nu_shape=3.0)'
"""

from pbnn.likelihoods.base import LIKELIHOODS, Likelihood, classification_likelihood, get_likelihood, register
from pbnn.likelihoods.bernoulli import Bernoulli
from pbnn.likelihoods.categorical import Categorical
from pbnn.likelihoods.normal import Normal
from pbnn.likelihoods.heteroscedastic_normal import HeteroscedasticNormal
from pbnn.likelihoods.student_t import StudentT
from pbnn.likelihoods.poisson import Poisson
from pbnn.likelihoods.negative_binomial import NegativeBinomial

__all__ = [
    "LIKELIHOODS",
    "Likelihood",
    "classification_likelihood",
    "get_likelihood",
    "register",
    *(cls.__name__ for cls in LIKELIHOODS.values()),
]
