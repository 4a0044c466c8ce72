"""Variational autoencoders (pbnn.vae): the spec and its TOML, bad input, fitting, the DataTree, the IWAE bound,
saving and loading, plots."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from matplotlib.figure import Figure

import pbnn
from pbnn import layers as L
from pbnn import priors as P
from pbnn.errors import DataError, SpecError

DENSE = [L.Dense(32, activation="relu")]


@pytest.fixture(scope="module")
def digits():
    return pbnn.datasets.digits()


@pytest.fixture(scope="module")
def point_fit(digits):
    """The zoo's digits VAE (latent 16, point decoder), 1000 steps of 128 (about 107 epochs)."""
    return pbnn.fit_vae(pbnn.zoo.vae_digits(), digits.X_train, steps=1000, seed=0, progressbar=False)


@pytest.fixture(scope="module")
def bayes_fit(digits):
    """A Bayesian decoder, latent 2, 300 steps, 20 posterior draws."""
    spec = dataclasses.replace(pbnn.zoo.vae_digits(), latent=2, prior=P.Normal(1.0))
    return pbnn.fit_vae(spec, digits.X_train, steps=300, draws=20, seed=1, progressbar=False)


# -- the spec -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({"latent": 0}, "VAE latent: expected a positive integer, got 0"),
    ({"latent": -3}, "VAE latent: expected a positive integer, got -3"),
    ({"latent": True}, "VAE latent: expected a positive integer, got True"),
    ({"latent": 2.0}, "VAE latent: expected a positive integer, got 2.0"),
    ({"encoder": L.Dense(3)}, "VAE encoder: expected a list of pbnn.layers objects, got Dense"),
    ({"decoder": [3]}, "VAE decoder[1]: expected a pbnn.layers object, got 3"),
    ({"prior": P.Laplace(0.1)}, "VAE prior: expected None (a point decoder) or a pbnn.priors.Normal (a Bayesian "
                                "decoder, mean-field VI with an analytic KL), got Laplace(b=0.1)"),
    ({"likelihood": "poisson"}, "VAE likelihood: 'poisson' is not a likelihood of a VAE's data; expected one of "
                                "bernoulli, normal"),
    ({"likelihood": pbnn.likelihoods.Normal(noise_scale=2.0)},
     "VAE likelihood: normal(noise_scale=2.0): a VAE estimates the likelihood's noise by maximum likelihood and "
     "takes no hyperprior; use 'normal'"),
    ({"decoder": [L.Conv2D(4, 3)]}, "VAE decoder[1] Conv2D(4, 3x3, identity): Conv2D expects images (channels, "
                                    "height, width), got shape (2,); 2-D layers go before Flatten/Dense"),
    ({"encoder": [L.Dense(8, prior=P.Normal(0.5))]},
     "VAE encoder[1].prior: the encoder's weights are point estimates (amortized VI) and take no prior; remove the "
     "prior of Dense(8, identity, prior Normal(sigma=0.5))"),
    ({"decoder": [L.Dense(8, prior=P.Normal(0.5))]},
     "VAE decoder[1].prior: a point decoder (prior=None) has no weight priors; set the VAE's prior (e.g. "
     "P.Normal(1.0)) to make the decoder Bayesian"),
    ({"decoder": [L.Dense(8, prior=P.Laplace(0.5))], "prior": P.Normal()},
     "VAE decoder[1].prior: expected a pbnn.priors.Normal, got Laplace(b=0.5)"),
    ({"fit_settings": {"stepz": 10}}, "fit.stepz: not a setting of a VAE; expected some of steps, batch_size, "
                                      "learning_rate, final_learning_rate, mc_samples, draws, init_scale"),
    ({"fit_settings": {"steps": 0}}, "fit.steps: expected a positive integer, got 0"),
    ({"name": 3}, "VAE name: expected a string, got 3"),
])
def test_spec_errors_name_the_field(kwargs, message):
    with pytest.raises(SpecError, match=f"^{re.escape(message)}$"):
        pbnn.VAE(**kwargs)


def test_unknown_likelihood_lists_the_vae_ones():
    with pytest.raises(SpecError, match=r"^VAE likelihood: unknown likelihood 'nope'; expected one of bernoulli, "
                                        r".*; a VAE's data take one of bernoulli, normal$"):
        pbnn.VAE(likelihood="nope")


@pytest.mark.parametrize("spec", [
    pbnn.zoo.vae_digits(),
    pbnn.zoo.vae_mnist(),
    pbnn.VAE(),  # no encoder or decoder layers: linear maps
    pbnn.VAE(encoder=[L.Conv2D(4, 3, activation="relu"), L.MaxPool2D(2)], latent=3, decoder=DENSE,
             likelihood="normal", prior=P.Normal(0.5), name="x", description="a\nb",
             fit_settings={"steps": 10, "init_scale": 0.01}),
    pbnn.VAE(decoder=[L.Dense(8, prior=P.Normal(2.0)), L.Dense(4, bias=False)], prior=P.Normal(1.0)),
])
def test_toml_round_trip(spec, tmp_path):
    text = spec.to_toml()
    assert text.startswith('kind = "vae"\n')
    assert pbnn.VAE.from_toml(text) == spec
    assert pbnn.load_spec(spec.save(tmp_path / "vae.toml")) == spec
    assert ("\n[prior]\n" in text) == spec.bayesian


def test_zoo_lists_and_loads_the_vaes():
    assert pbnn.zoo.vae_names() == ["vae_digits", "vae_mnist"]
    assert not set(pbnn.zoo.vae_names()) & set(pbnn.zoo.names())  # names() stays the BNN zoo
    assert pbnn.zoo.get("vae_mnist") == pbnn.zoo.vae_mnist() == pbnn.load_spec("models/vae/vae_mnist.toml")
    spec = pbnn.zoo.vae_digits()
    assert (spec.latent, spec.likelihood, spec.bayesian) == (16, "bernoulli", False)
    assert dict(spec.fit_settings) == {"steps": 5000, "batch_size": 128, "learning_rate": 0.001}


def test_pbnn_zoo_lists_the_vaes(capsys):
    import pbnn.cli

    assert pbnn.cli.main(["zoo"]) == 0
    out = capsys.readouterr().out
    assert "vae_digits: A VAE for 8x8 digits" in out and "VAE, latent 16; likelihood bernoulli; point decoder" in out
    for model in ("vae_digits", "models/vae/vae_digits.toml"):
        assert pbnn.cli.main(["fit", model, "--data", "digits"]) == 2
        assert (f"pbnn: error: model: '{model}' is a VAE spec; the command line fits BNNs: fit it from Python with "
                "pbnn.fit_vae(pbnn.load_spec(...), X)") in capsys.readouterr().err


def test_toml_errors_give_the_line():
    text = pbnn.zoo.vae_digits().to_toml()
    with pytest.raises(SpecError, match=r"^<string>, line 4: latent: expected a positive integer, got 0$"):
        pbnn.VAE.from_toml(text.replace("latent = 16", "latent = 0"))
    bad_units = text.replace("units = 128", "units = 0")
    with pytest.raises(SpecError, match=r"^<string>, line 9: encoder\[1\]: Dense.units: expected a positive"):
        pbnn.spec.spec_from_toml(bad_units)
    conv = text.replace('[[decoder]]\nkind = "dense"\nunits = 128', '[[decoder]]\nkind = "conv2d"\nfilters = 4\nkernel_size = 3')
    with pytest.raises(SpecError, match=r"^<string>, line 14: decoder\[1\] Conv2D\(4, 3x3, relu\): Conv2D expects"):
        pbnn.spec.spec_from_toml(conv)
    with pytest.raises(SpecError, match=r"^<string>, line \d+: prior: expected None \(a point decoder\)"):
        pbnn.spec.spec_from_toml(text + '\n[prior]\nkind = "laplace"\nb = 1.0\n')
    with pytest.raises(SpecError, match=r"^<string>, line 1: kind: unknown spec kind 'gan'; expected one of vae "
                                        r"\(a file without kind is a BNN\)$"):
        pbnn.spec.spec_from_toml(text.replace('kind = "vae"', 'kind = "gan"'))
    with pytest.raises(SpecError, match=r"spec: unknown key 'layers'; expected keys are kind, name"):
        pbnn.spec.spec_from_toml(text + "\n[[layers]]\nkind = \"dense\"\nunits = 3\n")


def test_summary_and_parameter_counts():
    spec = pbnn.zoo.vae_digits()
    assert spec.n_params((1, 8, 8)) == {"encoder": 64 * 128 + 128 + 128 * 32 + 32,
                                        "decoder": 16 * 128 + 128 + 128 * 64 + 64}
    assert "latent 16" in spec.summary() and "Dense(n_features, identity)" in spec.summary()


# -- bad data -----------------------------------------------------------------------------------------


def test_bad_data_is_named(digits):
    spec = pbnn.VAE(encoder=DENSE, latent=2, decoder=DENSE)
    with pytest.raises(DataError, match=r"^X: likelihood 'bernoulli' models values in \[0, 1\], got values up to "
                                        r"16 \(.* value\(s\) outside\); scale the data into \[0, 1\] \(8x8 digits: "
                                        r"X / 16\) or use likelihood 'normal'$"):
        pbnn.fit_vae(spec, digits.X_train * 16, steps=5)
    with pytest.raises(DataError, match=r"got values down to -1"):
        pbnn.fit_vae(spec, digits.X_train - 1, steps=5)
    conv = pbnn.VAE(encoder=[L.Conv2D(4, 3)], latent=2)
    with pytest.raises(DataError, match=re.escape("X: observations of shape (64,) do not fit the encoder: VAE "
                                                  "encoder[1] Conv2D(4, 3x3, identity): Conv2D expects images")):
        pbnn.fit_vae(conv, digits.X_train.reshape(-1, 64), steps=5)
    with pytest.raises(DataError, match=r"^batch_size: expected at most the number of observations \(10\), got 64$"):
        pbnn.fit_vae(spec, digits.X_train[:10], steps=5, batch_size=64)
    with pytest.raises(TypeError, match=r"^stepz: not an option of pbnn.fit_vae; its options are steps, "):
        pbnn.fit_vae(spec, digits.X_train, stepz=5)
    with pytest.raises(ValueError, match=r"^learning_rate: expected a positive number, got -1$"):
        pbnn.fit_vae(spec, digits.X_train, learning_rate=-1)
    with pytest.raises(TypeError, match=r"^spec: expected a pbnn.VAE, got BNN$"):
        pbnn.fit_vae(pbnn.zoo.two_layer_tanh(), digits.X_train)


def test_pbnn_fit_dispatches_a_vae_and_refuses_targets(digits):
    spec = pbnn.VAE(encoder=DENSE, latent=2, decoder=DENSE)
    with pytest.raises(TypeError, match=r"^y: a pbnn.VAE is fitted to X alone by amortized VI \(pbnn.fit_vae\) and "
                                        r"takes no y, got an array of shape \(1198,\)$"):
        pbnn.fit(spec, digits.X_train, digits.y_train)
    with pytest.raises(TypeError, match=r"^method: a pbnn.VAE .* takes no method, got 'advi'$"):
        pbnn.fit(spec, digits.X_train, method="advi")
    with pytest.raises(DataError, match=r"^y: a BNN is fitted to inputs X and targets y, got y=None"):
        pbnn.fit(pbnn.zoo.two_layer_tanh(), digits.X_train)


# -- fitting ------------------------------------------------------------------------------------------


def test_the_elbo_improves_over_training(point_fit):
    elbo = point_fit.optimizer_stats["elbo"].values
    assert len(elbo) == 1000 and np.isfinite(elbo).all()
    assert elbo[-100:].mean() > elbo[:100].mean() + 5  # measured -45.5 -> -25.6 nats per image


def test_knn_on_latent_16_test_means_reaches_085(point_fit, digits):
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=5).fit(point_fit.latent["mean"].values, digits.y_train)
    accuracy = knn.score(point_fit.encode(digits.X_test).mean, digits.y_test)
    assert accuracy >= 0.85  # measured 0.945


def test_iwae_with_1000_samples_is_at_least_the_elbo(point_fit, digits):
    X = digits.X_test[:200]
    bound = point_fit.iwae(X, k=1000, seed=0)
    elbo = point_fit.elbo(X, samples=100, seed=1)
    assert bound.per_point.shape == elbo.shape == (200,) and bound.k == 1000
    assert bound.mean > elbo.mean()  # measured -24.4 vs -24.7 nats
    assert np.mean(bound.per_point >= elbo) > 0.9  # measured 0.935 (each estimate has its Monte Carlo noise)
    assert point_fit.iwae(X, k=1000, seed=0).per_point.tolist() == bound.per_point.tolist()  # seeded
    assert re.fullmatch(r"IWAE\(k=1000\): -\d+\.\d{3} \+- \d\.\d{3} nats per observation \(200 observations\)",
                        repr(bound))


def test_the_datatree(point_fit, digits):
    idata = point_fit.idata
    assert sorted(idata.children) == ["decoder", "encoder", "latent", "observed_data", "optimizer_stats"]
    assert idata["latent"]["mean"].dims == ("obs", "latent") and idata["latent"]["mean"].shape == (1198, 16)
    assert (idata["latent"]["scale"].values > 0).all()
    assert idata["decoder"]["w_1"].dims == ("latent", "hidden_1")
    assert idata["encoder"]["w_2"].shape == (128, 32)
    assert idata.attrs["pbnn_method"] == "vae" and idata.attrs["pbnn_seed"] == 0
    assert '"steps": 1000' in idata.attrs["pbnn_options"] and '"batch_size": 128' in idata.attrs["pbnn_options"]
    assert pbnn.load_spec.__module__ == "pbnn.spec" and pbnn.spec.spec_from_toml(idata.attrs["pbnn_spec"]) == point_fit.spec
    mean, scale = point_fit.encode(digits.X_train[:7])
    np.testing.assert_allclose(mean, idata["latent"]["mean"].values[:7])
    assert "final ELBO" in repr(point_fit)


def test_decode_reconstruct_sample(point_fit, digits):
    recon = point_fit.reconstruct(digits.X_test[:20])
    assert recon.shape == (20, 1, 8, 8) and ((recon > 0) & (recon < 1)).all()
    # reconstructions are closer to their inputs than to other test images
    own = np.abs(recon - digits.X_test[:20]).mean()
    other = np.abs(recon - digits.X_test[20:40]).mean()
    assert own < other
    samples = point_fit.sample(8, seed=3)
    assert samples.shape == (8, 1, 8, 8) and np.array_equal(samples, point_fit.sample(8, seed=3))
    binary = point_fit.sample(8, seed=3, noise=True)
    assert set(np.unique(binary)) <= {0.0, 1.0}
    with pytest.raises(DataError, match=r"^z: expected latent codes of shape \(n, 16\), got shape \(3, 2\)$"):
        point_fit.decode(np.zeros((3, 2)))
    with pytest.raises(DataError, match=r"^X: expected observations of shape \(1, 8, 8\) \(n_samples excluded\), "
                                        r"as in training, got \(1, 4, 4\)$"):
        point_fit.encode(np.zeros((3, 1, 4, 4)))
    with pytest.raises(DataError, match=r"^X: likelihood 'bernoulli' models values in \[0, 1\]"):
        point_fit.iwae(digits.X_test[:3] * 16, k=10)


def test_bayesian_decoder(bayes_fit, digits):
    idata = bayes_fit.idata
    assert {"posterior", "decoder_sd"} <= set(idata.children)
    post = idata["posterior"]
    assert post["w_1"].dims == ("chain", "draw", "latent", "hidden_1") and post["w_1"].shape == (1, 20, 2, 128)
    assert (idata["decoder_sd"]["w_2"].values > 0).all()
    X = digits.X_test[:100]
    bound, elbo = bayes_fit.iwae(X, k=1000), bayes_fit.elbo(X, samples=100, seed=1)
    assert bound.mean > elbo.mean()
    assert bayes_fit.decode(np.zeros(2)).shape == (1, 1, 8, 8)
    assert "Bayesian, prior Normal(sigma=1.0)" in repr(bayes_fit)


def test_seeded_fits_are_reproducible(bayes_fit, digits):
    spec = dataclasses.replace(pbnn.zoo.vae_digits(), latent=2, prior=P.Normal(1.0))
    first = bayes_fit  # seed 1, the same spec and options
    again, other = (pbnn.fit_vae(spec, digits.X_train, steps=300, draws=20, seed=s, progressbar=False) for s in (1, 2))
    for group in ("encoder", "decoder", "decoder_sd", "posterior", "latent", "optimizer_stats"):
        assert again.idata[group].to_dataset().identical(first.idata[group].to_dataset()), group
    assert not np.array_equal(first.idata["latent"]["mean"].values, other.idata["latent"]["mean"].values)


def test_normal_likelihood(digits):
    spec = pbnn.VAE(encoder=DENSE, latent=2, decoder=DENSE, likelihood="normal")
    X = digits.X_train[:100].reshape(-1, 64) * 16 - 8  # real values outside [0, 1]
    fit = pbnn.fit(spec, X, steps=200, seed=0, progressbar=False)  # pbnn.fit of a VAE: pbnn.fit_vae
    assert isinstance(fit, pbnn.VAEFit) and fit.optimizer_stats.sizes["step"] == 200
    assert fit.idata.attrs["pbnn_options"].startswith('{"batch_size": null')  # the default 128 > 100: full batch
    noise = fit.idata["decoder"]["noise_sd"]
    assert noise.shape == (64,) and (noise.values > 0).all()
    assert fit.decode(np.zeros((2, 2))).shape == (2, 64)
    assert fit.iwae(X[:20], k=50).mean > fit.elbo(X[:20], samples=50).mean()
    assert not set(np.unique(fit.sample(4, noise=True))) <= {0.0, 1.0}


# -- saving and loading ------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["point_fit", "bayes_fit"])
def test_save_and_load_predict_identically(which, request, digits, tmp_path):
    fit = request.getfixturevalue(which)
    path = fit.save(tmp_path / "run")
    assert sorted(p.name for p in path.iterdir()) == ["idata.nc", "spec.toml"]
    back = pbnn.load(path)
    assert isinstance(back, pbnn.VAEFit) and back.spec == fit.spec
    # the rows and samples of the other tests' bounds: compiled once (blocks of 128 / 256 samples)
    X, k = (digits.X_test[:200], 100) if which == "point_fit" else (digits.X_test[:100], 200)
    assert np.array_equal(back.reconstruct(X), fit.reconstruct(X))
    assert np.array_equal(back.encode(X).scale, fit.encode(X).scale)
    assert np.array_equal(back.sample(5, seed=1), fit.sample(5, seed=1))
    assert np.array_equal(back.iwae(X, k=k).per_point, fit.iwae(X, k=k).per_point)
    with pytest.raises(ValueError, match=r"spec.toml: a VAE spec, not a BNN; load the run with pbnn.load$"):
        pbnn.Fit.load(path)


def test_load_checks_the_run(point_fit, tmp_path):
    path = point_fit.save(tmp_path / "run")
    idata = point_fit.idata.copy()
    idata["decoder"] = idata["decoder"].to_dataset().drop_vars("w_2")
    import shutil

    shutil.rmtree(path)
    pbnn.VAEFit(point_fit.spec, point_fit.idata).save(path)
    idata.to_netcdf(path / "idata.nc", engine="h5netcdf")
    with pytest.raises(ValueError, match=r"idata.nc: decoder variable 'w_2' is missing; the spec has it with shape "
                                         r"\(128, 64\)$"):
        pbnn.load(path)
    with pytest.raises(ValueError, match=r"^run for .*: decoder variable 'w_2' is missing"):
        pbnn.VAEFit(point_fit.spec, idata).save(tmp_path / "other")


# -- plots --------------------------------------------------------------------------------------------


def test_plots_return_figures(point_fit, bayes_fit, digits):
    figures = [
        pbnn.plot.latent_scatter(point_fit, digits.X_test, digits.y_test),
        pbnn.plot.latent_scatter(bayes_fit),
        pbnn.plot.reconstructions(point_fit, digits.X_test, n=6),
        pbnn.plot.prior_samples(bayes_fit, n=10),
        pbnn.plot.latent_manifold(bayes_fit, n=5),
        pbnn.plot.latent_manifold(point_fit, n=4, dims=(3, 7)),
        pbnn.plot.elbo_trace(point_fit),
    ]
    assert all(isinstance(fig, Figure) for fig in figures)
    assert figures[0].axes[0].get_xlabel().startswith("principal component 1")
    assert figures[1].axes[0].get_xlabel() == "z[0]"
    with pytest.raises(ValueError, match=r"^dims: expected two different latent dims in 0..1, got \(0, 0\)$"):
        pbnn.plot.latent_manifold(bayes_fit, dims=(0, 0))
    with pytest.raises(ValueError, match=r"^y: expected one label per observation"):
        pbnn.plot.latent_scatter(point_fit, digits.X_test, digits.y_train)
