"""README.md's ```python blocks run as written, in order, in one namespace, from a scratch folder.

Quick mode: every fit goes through a wrapper of :func:`pbnn.fit` that caps the sizes (steps, draws, tune,
chains) the method takes, so the blocks run in well under a minute; everything else is the README's code.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path

import matplotlib
import pytest

import pbnn
from pbnn.inference import METHODS

ROOT = Path(__file__).resolve().parents[1]
#: The most a README fit may take of each size option (quick mode).
CAPS = {"steps": 200, "draws": 40, "tune": 30, "chains": 2}


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def quick(fit):
    """``fit`` with each size option of the chosen method capped at :data:`CAPS` (one whose default is None and
    that is not given stays None: e.g. an ensemble's ``draws``, which its member method sets)."""

    def quick_fit(spec, X, y, method=None, **options):
        method = method or spec.fit_method
        defaults = {f.name: f.default for f in dataclasses.fields(METHODS[method].options)}
        for name, cap in CAPS.items():
            if name in defaults and (options.get(name) or defaults[name]) is not None:
                options[name] = min(options.get(name) or defaults[name], cap)
        return fit(spec, X, y, method, **options)

    return quick_fit


@pytest.mark.slow
def test_readme_python_blocks_run_in_order(tmp_path, monkeypatch):
    compare_module = importlib.import_module("pbnn.compare")  # pbnn.compare is the function
    sklearn_module = importlib.import_module("pbnn.sklearn")

    matplotlib.use("Agg")
    fast = quick(pbnn.fit)
    monkeypatch.setattr(pbnn, "fit", fast)
    monkeypatch.setattr(compare_module, "fit_method", fast)
    monkeypatch.setattr(sklearn_module, "pbnn_fit", fast)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").symlink_to(ROOT / "models")
    blocks = python_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 6
    namespace: dict = {}
    for i, code in enumerate(blocks, start=1):
        try:
            exec(compile(code, f"README.md python block {i}", "exec"), namespace)
        except Exception as err:
            raise AssertionError(f"README.md python block {i} failed: {type(err).__name__}: {err}") from err
    assert (tmp_path / "runs" / "moons-advi" / "idata.nc").is_file()
    assert pbnn.load(tmp_path / "runs" / "moons-nuts").method == "nuts"
    assert set(namespace["pred_raw"].classes()) <= {"no", "yes"}


def test_python_blocks_are_found():
    assert python_blocks("a\n```python\nx = 1\n```\n```bash\nls\n```\n```python\ny = 2\n```\n") == ["x = 1\n", "y = 2\n"]
