"""The notebooks: committed as built by notebooks/build.py, without outputs, and run top to bottom in quick mode.

Each notebook runs in a fresh ``python3`` kernel of this environment with ``PBNN_QUICK=1`` (few steps and
draws); the test reads numbers the notebook prints and checks them against thresholds below what was
measured in quick mode (quoted next to each).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = [
    "01_moons_advi_vs_nuts",
    "02_hierarchical",
    "03_conv_digits",
    "04_uncertainty_ood",
    "05_regression",
    "06_vae",
]


def _load_build():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_notebooks_are_built_by_build_py_without_outputs(tmp_path):
    build = _load_build()
    assert sorted(build.NOTEBOOKS) == NAMES
    for name, path in build.build(tmp_path).items():
        committed = NOTEBOOKS / f"{name}.ipynb"
        assert json.loads(committed.read_text()) == json.loads(path.read_text()), (
            f"{committed.name} differs from notebooks/build.py: run `python notebooks/build.py`"
        )
        nb = nbformat.read(committed, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), f"{committed.name} has outputs"
        assert 'QUICK = os.environ.get("PBNN_QUICK", "0") == "1"' in code[0].source


def _run(name: str, tmp_path: Path, monkeypatch) -> str:
    """Execute notebook ``name`` in quick mode; return its text outputs (streams and plain-text results)."""
    monkeypatch.setenv("PBNN_QUICK", "1")  # the kernel inherits the environment
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print('kernel prefix:', sys.prefix)"))
    # coalesce_streams: ipykernel may flush one print() as several stream messages
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=600, coalesce_streams=True,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    texts, n_images = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and out.name == "stdout":
                texts.append(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                texts.append(out.data.get("text/plain", ""))
                n_images += "image/png" in out.data
    text = "\n".join(texts)
    assert f"kernel prefix: {sys.prefix}" in text, "the notebook kernel is not this environment's python"
    return text + f"\nimages: {n_images}"


def _number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"the notebook printed nothing matching {pattern!r}"
    return float(match.group(1))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_in_quick_mode(name, tmp_path, monkeypatch):
    out = _run(name, tmp_path, monkeypatch)
    images = _number(r"images: (\d+)", out)
    if name == "01_moons_advi_vs_nuts":
        # measured on 200 training points: 0.935 (advi), 0.965 (nuts); predictive means 0.038 apart
        assert _number(r"advi: test accuracy (\S+),", out) > 0.9
        assert _number(r"nuts: test accuracy (\S+),", out) > 0.9
        assert _number(r"mean \|difference\| of P\(class 1\) (\S+),", out) < 0.1
        assert "Diagnosis (nuts)" in out and "Diagnosis (advi)" in out
        assert images >= 2  # uncertainty maps, ELBO trace
    elif name == "02_hierarchical":
        # measured on 200 training points: layer_sigma means 1.16, 1.90, 2.52; accuracies 0.960 (hierarchical),
        # 0.965 (fixed)
        means = [float(m) for m in re.findall(r"layer \d: layer_sigma mean (\S+),", out)]
        assert len(means) == 3 and all(0.1 < m < 10 for m in means)
        assert _number(r"hierarchical: test accuracy (\S+),", out) > 0.9
        assert _number(r"fixed prior: test accuracy (\S+),", out) > 0.9
        assert images >= 3
    elif name == "03_conv_digits":
        # measured 0.923 on 500 training images and 1,000 steps (chance: 0.1)
        assert _number(r"test accuracy (\S+),", out) > 0.85
        right, wrong = _number(r"right (\S+),", out), _number(r"wrong (\S+) nats", out)
        assert wrong > right  # measured 0.389 vs 0.181 nats
        assert images >= 3
    elif name == "04_uncertainty_ood":
        # measured accuracy 0.974; AUROC by epistemic: held-out 9s 0.951, noise 1.000
        assert _number(r"test accuracy (\S+),", out) > 0.9
        assert _number(r"by epistemic : held-out 9s (\S+),", out) > 0.85
        assert _number(r"by epistemic : .*noise (\S+)", out) > 0.95
        assert _number(r"accuracy on the rest (\S+)", out) >= _number(r"test accuracy (\S+),", out)
        assert images >= 4
    elif name == "05_regression":
        # measured ADVI epistemic std 1.03 inside, 10.55 outside the training range; MAP 0.00;
        # heteroscedastic aleatoric std 1.63 at x = -0.4, 3.76 at x = +0.4 (5000 steps)
        inside = _number(r"advi: epistemic std inside (\S+),", out)
        assert _number(r"advi: epistemic std inside \S+, outside (\S+);", out) > 3 * inside
        assert _number(r"map: epistemic std inside \S+, outside (\S+);", out) == 0.0
        assert _number(r"x = \+0\.4: aleatoric std (\S+)", out) > _number(r"x = -0\.4: aleatoric std (\S+)", out)
        assert images >= 2
    elif name == "06_vae":
        # measured (quick: 300 steps) ELBO -35.8 -> -26.0 nats per image; 5-NN 0.908 on latent 16; test IWAE (K=100)
        # -25.50 vs ELBO -25.97 (point decoder), -25.51 vs -25.97 (Bayesian: after 300 steps q(w) is still narrow)
        assert _number(r"last 50 steps (\S+) nats", out) > _number(r"ELBO: first 50 steps (\S+),", out) + 5
        assert _number(r"5-NN accuracy on the test latent means \(latent 16\): (\S+)", out) > 0.8
        for decoder in ("point", "Bayesian"):
            iwae = _number(rf"{decoder} decoder: test IWAE \(K=100\) (\S+) \+-", out)
            assert iwae >= _number(rf"{decoder} decoder: test IWAE .* test ELBO (\S+) nats", out)
        assert "VAEFit reconstructs identically: True" in out
        assert images >= 5  # ELBO trace, latent scatter, reconstructions, prior samples, manifold


#: A user's first cells: three optimisers with their progress bars on (as widgets, then as the plain text bar
#: of a Jupyter without ipywidgets), then a figure returned by the cell.
FITS = ("fits = {m: pbnn.fit(spec, ds.X_train, ds.y_train, method=m, steps=200, seed=0, **draws)\n"
        "        for m, draws in (('advi', {'draws': 20}), ('map', {}), ('mc_dropout', {'draws': 20}))}")
FIRST_CELLS = [
    "import pbnn\nds = pbnn.datasets.moons(n_samples=100)\nspec = pbnn.zoo.two_layer_tanh()\n" + FITS,
    "import pbnn.inference.progress as progress\nprogress._has_ipywidgets = lambda: False\n" + FITS,
    "pbnn.plot.elbo_trace(fits['advi'])",
    "import matplotlib; print('backend:', matplotlib.get_backend())",
]


@pytest.mark.slow
def test_progress_bars_warn_of_nothing_and_a_returned_figure_is_a_png(tmp_path, monkeypatch):
    widgets = importlib.util.find_spec("ipywidgets") is not None
    monkeypatch.setenv("MPLBACKEND", "agg")  # no `%matplotlib inline`: the figure shows as a PNG all the same
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in FIRST_CELLS])
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    widget_cell, text_cell, figure_cell, backend_cell = nb.cells
    for cell in (widget_cell, text_cell):
        stderr = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")
        assert not stderr, stderr  # rich's `install "ipywidgets" for Jupyter support`, tqdm's "IProgress not found" ...
    if widgets:
        views = [o for o in widget_cell.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        assert len(views) == 3  # one bar per fit
    stdout = "".join(o.text for o in text_cell.outputs if o.output_type == "stream")
    lines = [line.split("\r")[-1] for line in stdout.strip("\n").split("\n")]  # each bar's last state
    assert [line.split(" [")[0] for line in lines] == ["ADVI", "MAP", "MC dropout"], stdout
    assert all(" 200/200 " in line and line.endswith(" elapsed") for line in lines), stdout
    (result,) = [o for o in figure_cell.outputs if o.output_type == "execute_result"]
    assert "image/png" in result.data and result.data["text/plain"].startswith("<InlineFigure size")
    assert backend_cell.outputs[0].text.strip() == "backend: agg"
