"""Light imports: the command line's help, ``pbnn zoo`` and spec files load no PyMC, PyTensor, JAX, scikit-learn or Ray.

Each check runs in a fresh interpreter, since this test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pymc", "pytensor", "jax", "sklearn", "ray")


def heavy_modules_after(code: str) -> list[str]:
    """The heavy packages a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    "argv", [["--help"], ["fit", "--help"], ["predict", "--help"], ["compare", "--help"], ["zoo"], []]
)
def test_cli_help_and_zoo_import_nothing_heavy(argv):
    code = f"import contextlib, io, pbnn.cli\nwith contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n    pbnn.cli.main({argv!r})"
    assert heavy_modules_after(code) == []


def test_specs_layers_priors_and_zoo_import_nothing_heavy():
    code = (
        "import pbnn\nfrom pbnn import layers as L, priors as P\n"
        "spec = pbnn.BNN([L.Dense(3, activation='tanh'), L.Dense(1)], prior=P.Normal(sigma=1.0), likelihood='bernoulli')\n"
        "assert pbnn.load_spec(pbnn.zoo.path('two_layer_tanh')) == pbnn.zoo.two_layer_tanh()\n"
        "pbnn.BNN.from_toml(spec.to_toml()); pbnn.SpecError, pbnn.__version__\n"
        "vae = pbnn.VAE(encoder=[L.Dense(8)], latent=2, prior=P.Normal(1.0))\n"
        "assert pbnn.load_spec(pbnn.zoo.path('vae_digits')) == pbnn.zoo.vae_digits() and pbnn.VAE.from_toml(vae.to_toml()) == vae"
    )
    assert heavy_modules_after(code) == []


def test_public_names_load_on_first_use():
    import pbnn
    import pbnn.compare
    import pbnn.uncertainty  # the modules load; the package's attributes stay the functions

    assert callable(pbnn.uncertainty) and callable(pbnn.compare) and callable(pbnn.scores)
    assert pbnn.uncertainty.__module__ == "pbnn.uncertainty" and pbnn.compare.__module__ == "pbnn.compare"
    assert all(hasattr(pbnn, name) for name in pbnn.__all__)
    assert pbnn.inference.fit is pbnn.fit
    assert set(pbnn.__all__) <= set(dir(pbnn))
    with pytest.raises(AttributeError, match="module 'pbnn' has no attribute 'nonexistent'"):
        pbnn.nonexistent


def test_uncertainty_does_not_import_the_predictor():
    result = subprocess.run(
        [sys.executable, "-c", "import sys, pbnn.uncertainty; print('pbnn.predict' in sys.modules)"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
