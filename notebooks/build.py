"""Source of truth of the notebooks: ``python notebooks/build.py`` writes ``notebooks/*.ipynb`` (no outputs).

Edit the cells here, not in Jupyter, then rebuild; ``tests/test_notebooks.py`` checks that the
committed notebooks match this file and executes each one in quick mode (``PBNN_QUICK=1``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
import os

QUICK = os.environ.get("PBNN_QUICK", "0") == "1"  # quick mode: few steps and draws (CI); full mode: the real sizes
import matplotlib.pyplot as plt
import numpy as np

import pbnn
"""


def md(text: str):
    return new_markdown_cell(textwrap.dedent(text).strip())


def code(text: str):
    return new_code_cell(textwrap.dedent(text).strip())


NOTEBOOKS: dict[str, list] = {}

# -- 01 --------------------------------------------------------------------------------------------
NOTEBOOKS["01_moons_advi_vs_nuts"] = [
    md("""
    # Moons: ADVI vs NUTS

    A Bayesian neural network does not learn one set of weights but a distribution over them. Its
    predictions come with an uncertainty: where the training data say little, the posterior's networks
    disagree. This notebook fits the moons BNN of Wiecki's *Bayesian deep learning* (2 hidden layers of
    5 tanh units) two ways, with ADVI (a fast Gaussian approximation) and NUTS (exact up to Monte Carlo
    error), and compares them side by side.

    Set the environment variable `PBNN_QUICK=1` for a run in seconds (few steps and draws); without it the
    notebook uses the real sizes.
    """),
    code(SETUP),
    md("""
    The data: 1,000 points (400 in quick mode) of two interleaving half-moons, standardized and split half/half. The model
    comes from the zoo; its summary lists the layers with their output shapes and parameter counts.
    """),
    code("""
    ds = pbnn.datasets.moons(n_samples=400 if QUICK else 1000)
    spec = pbnn.zoo.two_layer_tanh()
    print(ds)
    print(spec.summary(ds.X_train.shape[1:]))
    """),
    md("""
    `pbnn.compare` fits every method on the same split with the same seed, predicts the test set and
    measures each method. NUTS runs on numpyro's sampler with 2 chains (one per core of a small machine).
    """),
    code("""
    options = {
        "advi": {"steps": 3_000 if QUICK else 30_000, "draws": 200 if QUICK else 1000},
        "nuts": {"sampler": "numpyro", "chains": 2, "draws": 100 if QUICK else 1000, "tune": 100 if QUICK else 1000},
    }
    cmp = pbnn.compare(spec, ds, methods=["advi", "nuts"], options=options, seed=0, progressbar=False)
    for row in cmp.table:
        print(f"{row['method']}: test accuracy {row['accuracy']:.3f}, lpd {row['lpd']:.3f} nats, fit {row['fit_s']:.1f} s")
    cmp
    """),
    md("""
    `mean_abs_diff_vs_ref` is how far ADVI's predictive mean is from NUTS' (the reference), averaged over
    the test points. The spreads can differ more than the means: mean-field ADVI ignores the correlations
    between weights and is known to under-estimate their posterior spread, but what matters is the spread
    of the predictions. `cmp.table` has the median ratio of ADVI's predictive spread to NUTS' (below 1:
    narrower) and the fraction of test points where it is below half of NUTS' (where ADVI under-covers).
    """),
    code("""
    advi = cmp.table[0]
    print(f"ADVI vs NUTS: mean |difference| of P(class 1) {advi['mean_abs_diff_vs_ref']:.3f}, "
          f"spread ratio {advi['spread_ratio_vs_ref']:.2f}, under-covered points {advi['under_covered_frac']:.1%}")
    """),
    md("""
    The uncertainty maps. Top: the predictive mean of P(class 1) over a grid; bottom: its standard
    deviation over posterior draws, on the same colour scale for both methods. The networks agree near the
    data; they disagree along the decision boundary and far from the data.
    """),
    code("""
    cmp.plot_maps()
    """),
    md("""
    ## Has it converged?

    `pbnn.diagnose` judges convergence in *function space*, on the predictions at a probe set: the weight
    posterior of a BNN has symmetric modes (permuted hidden units, sign flips), so weight-space r_hat can
    be large while every chain predicts the same thing. The weight-space numbers are shown for information.
    ADVI is judged by its ELBO history. (In quick mode NUTS' 2 x 100 draws are too few to pass.)
    """),
    code("""
    pbnn.diagnose(cmp.results["nuts"].fit)
    """),
    code("""
    pbnn.diagnose(cmp.results["advi"].fit)
    """),
    md("""
    The ELBO trace behind ADVI's verdict; the right panel shades the two windows that `diagnose` compares.
    """),
    code("""
    pbnn.plot.elbo_trace(cmp.results["advi"].fit)
    """),
    md("""
    ## PSIS-LOO and the VI check, the ArviZ way

    Every fit carries a pointwise `log_likelihood` group, so ArviZ compares them as they come: `az.compare`
    ranks the methods by their PSIS-LOO estimate of the expected log predictive density on the training data
    (`elpd`, higher is better, with its standard error). `pbnn.elpd.vi_khat` is Yao et al.'s (2018) check of a
    variational fit: the Pareto k-hat of the importance ratios p(theta, y) / q(theta) over its draws; above
    0.7, q is too far from the posterior for importance sampling to repair (the compare table's `vi_khat`).
    """),
    code("""
    import arviz_plots as azp
    import arviz_stats as azs

    loo_table = azs.compare({name: r.fit.idata for name, r in cmp.results.items()})
    azp.plot_compare(loo_table)
    print(f"ADVI's k-hat: {pbnn.elpd.vi_khat(cmp.results['advi'].fit):.2f}")
    loo_table
    """),
    md("""
    `cmp.save("runs/moons")` writes every fit (NetCDF), `table.csv`, `report.md` and these figures; the
    command line does the same: `pbnn compare models/two_layer_tanh.toml --data moons --methods advi,nuts`.
    """),
]

# -- 02 --------------------------------------------------------------------------------------------
NOTEBOOKS["02_hierarchical"] = [
    md("""
    # A hierarchical BNN: learned per-layer weight scales

    The moons BNN of notebook 01 puts a fixed `Normal(0, 1)` prior on every weight. How large should the
    weights of each layer be? The hierarchical model learns it: the weights of layer `i` are
    `layer_sigma[i] * z` with `z ~ Normal(0, 1)` (non-centred) and `layer_sigma ~ HalfNormal(1)`, one scale
    per layer, inferred with the weights.
    """),
    code(SETUP),
    code("""
    ds = pbnn.datasets.moons(n_samples=400 if QUICK else 1000)
    hier, fixed = pbnn.zoo.hierarchical(), pbnn.zoo.two_layer_tanh()
    hier
    """),
    md("""
    We fit both models with NUTS (numpyro, 2 chains): the scales' posterior is what we want to see, and
    NUTS gives it without the mean-field approximation's shrinkage.
    """),
    code("""
    nuts = {"method": "nuts", "sampler": "numpyro", "chains": 2,
            "draws": 60 if QUICK else 1000, "tune": 100 if QUICK else 1000}
    fits = {name: pbnn.fit(spec, ds.X_train, ds.y_train, seed=0, progressbar=False, **nuts)
            for name, spec in (("hierarchical", hier), ("fixed prior", fixed))}
    fits["hierarchical"]
    """),
    md("""
    ## The learned scales

    `fit.posterior["layer_sigma"]` has one entry per weighted layer (dimension `layer`, numbered as in the
    spec). Its posterior tells how large each layer's weights are: the network picks its own scale instead
    of the fixed 1.
    """),
    code("""
    sigma = fits["hierarchical"].posterior["layer_sigma"]
    print(sigma.dims, sigma.sizes)
    for layer in sigma["layer"].values:
        s = sigma.sel(layer=layer).values.ravel()
        lo, hi = np.quantile(s, [0.05, 0.95])
        print(f"layer {layer}: layer_sigma mean {s.mean():.2f}, 90% interval [{lo:.2f}, {hi:.2f}]")
    """),
    code("""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for k, layer in enumerate(sigma["layer"].values):
        ax.hist(sigma.sel(layer=layer).values.ravel(), bins=40, density=True, alpha=0.5, color=f"C{k}",
                label=f"layer {layer}")
    grid = np.linspace(0, float(sigma.max()), 200)
    ax.plot(grid, np.sqrt(2 / np.pi) * np.exp(-grid**2 / 2), "k--", label="HalfNormal(1) prior")
    ax.set(xlabel="layer_sigma", ylabel="posterior density", title="learned weight scale per layer")
    ax.legend();
    """),
    md("""
    The weights themselves, pooled per layer: `pbnn.plot.weight_densities` shows the hierarchical model's
    weights (the Deterministics `w_i = layer_sigma[i] * z_i`).
    """),
    code("""
    pbnn.plot.weight_densities(fits["hierarchical"])
    """),
    md("""
    ## Against the fixed prior

    Same data, same sampler, same seed: test accuracy, held-out log predictive density (nats per point,
    higher is better) and the convergence verdict in function space.
    (In quick mode the chains are far too short to pass these checks; the full run uses 1,000 draws.)
    """),
    code("""
    for name, fit in fits.items():
        s = pbnn.scores(fit.predict(ds.X_test), ds.y_test)
        print(f"{name}: test accuracy {float(s['accuracy']):.3f}, lpd {float(s['lpd']):.3f}, "
              f"ece {float(s['ece']):.3f}, {pbnn.diagnose(fit).verdict}")
    """),
    code("""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, (name, fit) in zip(axes, fits.items()):
        X = ds.X_test
        g0, g1 = np.meshgrid(np.linspace(-3, 3, 60), np.linspace(-3, 3, 60))
        std = fit.predict(np.column_stack([g0.ravel(), g1.ravel()])).uncertainty()["std"].sel({"class": 1})
        c = ax.contourf(g0, g1, std.values.reshape(g0.shape), levels=20, cmap="magma_r")
        ax.scatter(X[:, 0], X[:, 1], c=ds.y_test, cmap="coolwarm", s=6, edgecolors="k", linewidths=0.2)
        ax.set_title(f"{name}: std of P(class 1)")
        fig.colorbar(c, ax=ax)
    """),
    md("""
    On moons both priors fit the data; the hierarchical model's advantage is that nobody had to choose the
    weight scale, which matters more for wider or deeper networks (try `pbnn.zoo.conv_hierarchical()`).
    """),
]

# -- 03 --------------------------------------------------------------------------------------------
NOTEBOOKS["03_conv_digits"] = [
    md("""
    # A convolutional BNN on digits

    A small Bayesian LeNet (`pbnn.zoo.conv()`: two 3x3 convolutions with max pooling, then a dense layer
    to 10 classes, Normal(0, 1) priors) on scikit-learn's 8x8 handwritten digits, fitted with minibatch
    ADVI: each step sees `batch_size` images and the likelihood is scaled to the whole training set. The
    settings are those of `benchmarks/bench_conv.py` (test accuracy 0.97-0.98 over seeds, `benchmarks/RESULTS.md`).
    """),
    code(SETUP),
    code("""
    ds = pbnn.datasets.digits(seed=0)
    n_train = 500 if QUICK else len(ds.y_train)
    spec = pbnn.zoo.conv()
    print(ds)
    print(spec.summary(ds.X_train.shape[1:]))
    """),
    code("""
    # the learning rate decays from 0.01 to 0.001; the approximation starts narrow (sd 0.01)
    fit = pbnn.fit(spec, ds.X_train[:n_train], ds.y_train[:n_train], method="advi", batch_size=64,
                   steps=1_000 if QUICK else 4_000, learning_rate=0.01, final_learning_rate=0.001,
                   init_scale=0.01, draws=100 if QUICK else 500, seed=0, progressbar=False)
    fit
    """),
    md("""
    Predictions average the class probabilities over posterior draws; the test accuracy is the fraction
    of test images whose most probable class is right.
    """),
    code("""
    pred = fit.predict(ds.X_test)
    s = pred.scores(ds.y_test)
    print(f"test accuracy {float(s['accuracy']):.3f}, lpd {float(s['lpd']):.3f} nats, ece {float(s['ece']):.3f}")
    pbnn.plot.confusion_matrix(pred, ds.y_test)
    """),
    md("""
    ## Which images is it unsure about?

    `pred.uncertainty()` gives, per image, the probability of the predicted class (`confidence`), its
    standard deviation over draws and the mutual information between label and weights (`epistemic`:
    the part of the uncertainty more data would remove). Below: the four most certain test images, then
    the eight most uncertain ones, titled with the predicted digit, its probability ± std and the truth.
    """),
    code("""
    u = pred.uncertainty()
    order = np.argsort(u["epistemic"].values)
    shown = np.r_[order[:4], order[::-1][:8]]
    fig, axes = plt.subplots(2, 6, figsize=(12, 4.6))
    for ax, i in zip(axes.ravel(), shown):
        ax.imshow(ds.X_test[i, 0], cmap="gray_r")
        p, sd = float(u["confidence"][i]), float(u["confidence_std"][i])
        ax.set_title(f"pred {int(u['predicted'][i])} ({p:.2f}±{sd:.2f})\\ntrue {ds.y_test[i]}, MI {float(u['epistemic'][i]):.2f}",
                     fontsize=9, color="k" if u["predicted"][i] == ds.y_test[i] else "C3")
        ax.axis("off")
    fig.suptitle("4 most certain, then 8 most uncertain test images (red: wrong)")
    fig.tight_layout()
    """),
    md("""
    The posterior draws' probabilities for a few of these images: a confident image has all its draws
    near 1, an ambiguous one spreads them out.
    """),
    code("""
    pbnn.plot.predictive_histogram(pred, [int(i) for i in shown[[0, 4, 5, 6]]])
    """),
    md("""
    Do mistakes concentrate among the uncertain images? Compare the mean epistemic uncertainty of the
    wrong predictions with that of the right ones.
    """),
    code("""
    wrong = u["predicted"].values != ds.y_test
    print(f"{wrong.sum()} wrong of {len(wrong)}; mean epistemic: right {u['epistemic'].values[~wrong].mean():.3f}, "
          f"wrong {u['epistemic'].values[wrong].mean():.3f} nats")
    """),
]

# -- 04 --------------------------------------------------------------------------------------------
NOTEBOOKS["04_uncertainty_ood"] = [
    md("""
    # Uncertainty and out-of-distribution detection

    A classifier's probability is not its certainty. This notebook trains a BNN on the digits 0-8, holds
    the 9s out, and asks whether the model's uncertainty tells the 9s (and images of pure noise) apart
    from the test digits it knows, and whether refusing to answer on uncertain images makes the answers
    it does give more accurate.
    """),
    code(SETUP),
    code("""
    ds, X_nines = pbnn.datasets.digits_ood(ood_classes=[9], seed=0)
    rng = np.random.default_rng(0)
    X_noise = rng.uniform(0, 1, size=(200, 1, 8, 8))
    print(ds)
    print(f"held-out 9s: {X_nines.shape}, noise images: {X_noise.shape}")
    """),
    md("""
    A small dense BNN (flatten, 32 tanh units, softmax over the 9 known digits), fitted with ADVI.
    """),
    code("""
    from pbnn import layers as L, priors as P

    spec = pbnn.BNN([L.Flatten(), L.Dense(32, activation="tanh"), L.Dense(ds.n_classes)],
                    prior=P.Normal(sigma=1.0), likelihood="categorical")
    fit = pbnn.fit(spec, ds.X_train, ds.y_train, steps=3_000 if QUICK else 30_000, draws=200 if QUICK else 1000,
                   seed=0, progressbar=False)
    preds = {"test digits": fit.predict(ds.X_test), "held-out 9s": fit.predict(X_nines), "noise": fit.predict(X_noise)}
    """),
    md("""
    ## Per-point uncertainty

    `pbnn.uncertainty(pred)` is an xarray Dataset over the points: class probabilities (`mean`, `std`),
    the predicted class and its `confidence`, and the total predictive `entropy` split into `aleatoric`
    (expected entropy of the draws: noise in the labels) and `epistemic` (mutual information between
    label and weights: ignorance, which more data would remove).
    """),
    code("""
    u = pbnn.uncertainty(preds["test digits"])
    u
    """),
    code("""
    for name, pred in preds.items():
        v = pbnn.uncertainty(pred)
        print(f"{name:12s} entropy {float(v['entropy'].mean()):.3f} = aleatoric {float(v['aleatoric'].mean()):.3f}"
              f" + epistemic {float(v['epistemic'].mean()):.3f} nats; confidence {float(v['confidence'].mean()):.2f}")
    """),
    md("""
    ## Scores on the test set

    `pbnn.scores` gives accuracy, held-out log predictive density, Brier score, expected calibration error
    and the reliability table behind it.
    """),
    code("""
    s = pbnn.scores(preds["test digits"], ds.y_test)
    print(f"test accuracy {float(s['accuracy']):.3f}, lpd {float(s['lpd']):.3f} nats, "
          f"brier {float(s['brier']):.3f}, ece {float(s['ece']):.3f}")
    pbnn.plot.reliability_diagram(preds["test digits"], ds.y_test)
    """),
    md("""
    ## Out-of-distribution detection

    `pbnn.ood_auroc(pred_in, pred_out, score=...)` is the probability that a random out-of-distribution
    point is more uncertain than a random test point (0.5: chance, 1: a perfect split).
    """),
    code("""
    for score in ("epistemic", "entropy", "confidence"):
        aurocs = {name: pbnn.ood_auroc(preds["test digits"], preds[name], score=score) for name in ("held-out 9s", "noise")}
        print(f"OOD AUROC by {score:10s}: " + ", ".join(f"{k} {v:.3f}" for k, v in aurocs.items()))
    """),
    code("""
    pbnn.plot.ood_histograms(preds, score="epistemic")
    """),
    code("""
    pbnn.plot.probability_vs_uncertainty(preds)
    """),
    md("""
    ## Reject option

    A model that may say "I don't know" can be more accurate on the questions it answers. `pred.reject(t)`
    marks the points where no class reaches probability `t`; `pred.accuracy_coverage(y, by=score)` traces
    accuracy on the kept points against the fraction kept, from the most certain point to all of them.
    """),
    code("""
    test = preds["test digits"]
    refused = test.reject(0.9)
    kept = ~refused.values
    acc_kept = float((test.classes()[kept] == ds.y_test[kept]).mean())
    print(f"threshold 0.9: refuses {refused.values.mean():.1%} of the test digits, accuracy on the rest {acc_kept:.3f}")
    for name in ("held-out 9s", "noise"):
        print(f"threshold 0.9: refuses {preds[name].reject(0.9).values.mean():.1%} of the {name}")
    """),
    code("""
    fig, ax = plt.subplots(figsize=(6, 4))
    for by in ("confidence", "epistemic"):
        curve = test.accuracy_coverage(ds.y_test, by=by)
        ax.plot(curve["coverage"], curve["accuracy"], label=f"kept by {by}")
    ax.set(xlabel="coverage (fraction of test points answered)", ylabel="accuracy on the answered points",
           title="accuracy-coverage")
    ax.legend();
    """),
]

# -- 05 --------------------------------------------------------------------------------------------
NOTEBOOKS["05_regression"] = [
    md("""
    # Regression: epistemic and aleatoric uncertainty

    The 1-D toy of Blundell et al. (2015): `y = 10 sin(2 pi x) + N(0, 1)` noise, training points with
    `x` in [-0.5, 0.5], tested on a grid over [-1.5, 1.5]. A regression BNN's predictive spread has two
    parts: *aleatoric*, the noise in the data (the likelihood's `sigma`), and *epistemic*, the
    disagreement of the posterior's networks, which should grow away from the data.
    """),
    code(SETUP),
    code("""
    ds = pbnn.datasets.sine(n_samples=128, seed=0)
    spec = pbnn.zoo.sine()
    print(ds)
    spec
    """),
    md("""
    Three ways to fit the same network: ADVI (a posterior approximation), MAP (a single best network: no
    epistemic spread at all) and MC dropout (the trained network with random units dropped at prediction
    time, a cheap stand-in for a posterior). `pbnn.compare` fits them on the same data and scores them on
    the test grid: RMSE, held-out log predictive density and the coverage of the central 90% interval.
    Most of the grid lies outside the training range, where no method can know the sine: there the
    scores reward honest uncertainty (a wide interval) rather than a good mean.

    We use 128 training points: with the 32 of the article, mean-field ADVI explains the whole sine as
    noise (try `pbnn.datasets.sine()`).
    """),
    code("""
    draws = 200 if QUICK else 1000
    options = {"advi": {"steps": 10_000 if QUICK else 30_000, "draws": draws},
               "map": {"steps": 3_000 if QUICK else 10_000},
               "mc_dropout": {"steps": 3_000 if QUICK else 10_000, "draws": draws}}
    cmp = pbnn.compare(spec, ds, methods=["advi", "map", "mc_dropout"], options=options, seed=0, progressbar=False)
    for row in cmp.table:
        print(f"{row['method']}: test rmse {row['rmse']:.2f}, lpd {row['lpd']:.2f} nats, 90% coverage {row['coverage_90']:.2f}")
    cmp
    """),
    md("""
    `pbnn.plot.regression_band` draws the predictive mean with two central 90% bands: that of the
    network's mean over posterior draws (epistemic, dark) and that of the predictive distribution, noise
    included (total, light). The training data lie between the dotted lines.
    """),
    code("""
    x = ds.X_test[:, 0]
    fig = pbnn.plot.regression_band({m: r.fit for m, r in cmp.results.items()}, ds.X_train, ds.y_train, grid=x)
    for ax in fig.axes:
        ax.plot(x, 10 * np.sin(2 * np.pi * x), "k--", lw=1, label="10 sin(2 pi x)")
        for edge in (-0.5, 0.5):
            ax.axvline(edge, color="0.5", ls=":")
        ax.set_ylim(-40, 40)
    fig.axes[0].legend(loc="lower left", fontsize="small")
    fig
    """),
    md("""
    The epistemic std should be small inside the training range and grow outside it; MAP has none at all:
    its band is the noise alone, whatever the distance to the data. The aleatoric std estimates the true
    noise sd, 1 (mean-field ADVI tends to overestimate it).
    """),
    code("""
    inside = np.abs(x) <= 0.5
    for method, r in cmp.results.items():
        u = pbnn.uncertainty(r.pred)
        print(f"{method}: epistemic std inside {u['epistemic_std'].values[inside].mean():.2f}, "
              f"outside {u['epistemic_std'].values[~inside].mean():.2f}; "
              f"aleatoric std {u['aleatoric_std'].values.mean():.2f}")
    """),
    md("""
    ## Noise that depends on x

    `pbnn.zoo.regression()` has a heteroscedastic Gaussian likelihood: the last layer gives both the mean
    and the log noise sd of each point, so the aleatoric part can vary with `x`. Here the noise sd grows
    from 0.2 to 3 across the training range. The noise sd is a per-point output of the network, so it
    needs more data than a single `sigma`: 512 points. Standardizing `x` helps the `Normal(0, 1)` weights
    (the sine's period is short in the original units).
    """),
    code("""
    rng = np.random.default_rng(1)
    x_tr = rng.uniform(-0.5, 0.5, size=512)
    true_sd = lambda x: 0.2 + 2.8 * (x + 0.5)
    y_tr = 10 * np.sin(2 * np.pi * x_tr) + true_sd(x_tr) * rng.standard_normal(512)
    loc, scale = x_tr.mean(), x_tr.std()
    het = pbnn.fit(pbnn.zoo.regression(), ((x_tr - loc) / scale)[:, None], y_tr, steps=5_000 if QUICK else 30_000,
                   draws=200 if QUICK else 1000, seed=0, progressbar=False)
    grid = np.linspace(-0.5, 0.5, 101)
    u = pbnn.uncertainty(het.predict(((grid - loc) / scale)[:, None]))
    for xi in (-0.4, 0.0, 0.4):
        k = int(np.argmin(np.abs(grid - xi)))
        print(f"x = {xi:+.1f}: aleatoric std {float(u['aleatoric_std'][k]):.2f} (true {true_sd(xi):.2f}), "
              f"epistemic std {float(u['epistemic_std'][k]):.2f}")
    """),
    md("""
    The same plot on the standardized inputs the network saw: the total band widens with the noise, the
    epistemic band stays narrow inside the training range.
    """),
    code("""
    fig = pbnn.plot.regression_band(het, (x_tr - loc) / scale, y_tr, grid=(grid - loc) / scale,
                                    title="heteroscedastic regression: the interval widens with the noise")
    fig.axes[0].set_xlabel("standardized x: (x - mean) / sd")
    fig
    """),
]

# -- 06 --------------------------------------------------------------------------------------------
NOTEBOOKS["06_vae"] = [
    md("""
    # Variational autoencoders: amortized VI, a point or a Bayesian decoder

    A variational autoencoder is a generative model built from networks: a latent code `z ~ N(0, I)` and a
    decoder `p(x | z)` that turns it into an image. An encoder `q(z | x)` gives, for every image, the mean and
    scale of a Gaussian over its code: *amortized* inference, one network for all the observations instead of
    variational parameters per image. Both are fitted on the ELBO, `E_q[log p(x | z)] - KL(q(z | x) || p(z))`,
    with minibatches (Kingma & Welling 2014). With a prior on the decoder's weights, pbnn infers them too, by
    mean-field VI: a Bayesian decoder.

    Set `PBNN_QUICK=1` for a run in seconds; without it the notebook uses the real sizes.
    """),
    code(SETUP + "import dataclasses\n\nfrom pbnn import priors as P\n"),
    md("""
    The data: scikit-learn's 8x8 digits, pixels divided by 16 into [0, 1] (a Bernoulli likelihood per pixel).
    The zoo's model has a 16-d latent space; for pictures we first take a 2-d one (in quick mode the zoo's 16-d
    one, whose fit the next section then reuses: one compilation less; the plots show 16-d codes on their first
    two principal components and decode a grid over two of their dims).
    """),
    code("""
    ds = pbnn.datasets.digits()
    steps = 300 if QUICK else 5000
    spec2 = dataclasses.replace(pbnn.zoo.vae_digits(), latent=16 if QUICK else 2)
    print(spec2.summary(ds.X_train.shape[1:]))
    fit2 = pbnn.fit_vae(spec2, ds.X_train, steps=steps, seed=0, progressbar=False)
    elbo = fit2.optimizer_stats["elbo"].values
    print(f"ELBO: first 50 steps {elbo[:50].mean():.2f}, last 50 steps {elbo[-50:].mean():.2f} nats per image")
    """),
    code("""
    pbnn.plot.elbo_trace(fit2)
    """),
    md("""
    The means of `q(z | x)` of the test images, coloured by digit: the classes gather in regions of the latent
    space although the model never saw a label.
    """),
    code("""
    pbnn.plot.latent_scatter(fit2, ds.X_test, ds.y_test)
    """),
    md("""
    Test images beside their reconstructions (decoded at the mean of `q(z | x)`), new images from the prior, and the
    decoder over a grid of the 2-d latent space (the prior's quantiles 0.05 to 0.95).
    """),
    code("""
    pbnn.plot.reconstructions(fit2, ds.X_test, n=10)
    """),
    code("""
    pbnn.plot.prior_samples(fit2, n=36, seed=0)
    """),
    code("""
    pbnn.plot.latent_manifold(fit2, n=15)
    """),
    md("""
    ## A 16-d latent space: codes that classify, and the IWAE bound

    The zoo's model has 16 latent dims. A 5-nearest-neighbour classifier on the latent means measures how well
    the codes separate the digits. `fit.iwae(X, k)` estimates the log-likelihood of held-out images by importance
    sampling (Burda et al. 2016): the log-mean-exp of `k` importance weights, a bound that rises with `k`
    towards `log p(x)` and is at least the ELBO (`k = 1`).
    """),
    code("""
    from sklearn.neighbors import KNeighborsClassifier

    spec16 = pbnn.zoo.vae_digits()
    fit16 = pbnn.fit_vae(spec16, ds.X_train, steps=steps, seed=0, progressbar=False)
    knn = KNeighborsClassifier(n_neighbors=5).fit(fit16.latent["mean"].values, ds.y_train)
    print(f"5-NN accuracy on the test latent means (latent 16): {knn.score(fit16.encode(ds.X_test).mean, ds.y_test):.3f}")
    X_eval = ds.X_test[:200] if QUICK else ds.X_test
    k = 100 if QUICK else 1000
    bound, test_elbo = fit16.iwae(X_eval, k=k, seed=0), fit16.elbo(X_eval, samples=100, seed=1)
    print(f"point decoder: test IWAE (K={k}) {bound.mean:.2f} +- {bound.se:.2f}, test ELBO {test_elbo.mean():.2f} nats per image")
    """),
    md("""
    ## A Bayesian decoder

    `prior=P.Normal(1.0)` makes the decoder's weights random: mean-field Gaussian `q(w)`, its KL to the prior
    divided by the number of images in the objective. The fit keeps `q(w)` (`decoder` means and `decoder_sd`) and
    draws from it (`posterior`, dims `chain, draw, ...`). Its IWAE bound draws the weights once per importance
    sample: a bound on the predictive density of a test image under `q(w)`.
    """),
    code("""
    bayes = pbnn.fit_vae(dataclasses.replace(spec16, prior=P.Normal(1.0)), ds.X_train, steps=steps, seed=0,
                         draws=20 if QUICK else 100, progressbar=False)
    bound_b, elbo_b = bayes.iwae(X_eval, k=k, seed=0), bayes.elbo(X_eval, samples=100, seed=1)
    print(f"Bayesian decoder: test IWAE (K={k}) {bound_b.mean:.2f} +- {bound_b.se:.2f}, test ELBO {elbo_b.mean():.2f} nats per image")
    sd = np.concatenate([bayes.idata["decoder_sd"][name].values.ravel() for name in bayes.idata["decoder_sd"].data_vars])
    print(f"sd of q(w): median {np.median(sd):.3g}, 90% of the weights below {np.quantile(sd, 0.9):.3g}")
    bayes.idata["posterior"]
    """),
    md("""
    A fit is saved like a BNN run (`spec.toml` and NetCDF, no pickle) and `pbnn.load` gives it back, predicting the
    same.
    """),
    code("""
    import tempfile

    path = fit16.save(f"{tempfile.mkdtemp()}/vae-digits")
    back = pbnn.load(path)
    print(type(back).__name__, "reconstructs identically:", np.array_equal(back.reconstruct(ds.X_test[:50]),
                                                                          fit16.reconstruct(ds.X_test[:50])))
    """),
]


def build(folder: Path = HERE) -> dict[str, Path]:
    """Write every notebook of :data:`NOTEBOOKS` to ``folder``; returns name -> path."""
    paths = {}
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=cells, metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
            "language_info": {"name": "python"},
        })
        for k, cell in enumerate(nb.cells):  # stable ids: rebuilding gives the same files
            cell["id"] = f"{name[:2]}-{k:02d}"
        nbformat.validate(nb)
        paths[name] = folder / f"{name}.ipynb"
        nbformat.write(nb, paths[name])
    return paths


if __name__ == "__main__":
    for path in build().values():
        print(path)
