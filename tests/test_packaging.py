"""pyproject.toml and environment.yml (conda-forge) declare the same dependencies and lower bounds."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: conda-forge's names: matplotlib without a GUI toolkit, Ray without its dashboard
CONDA_NAMES = {"matplotlib": "matplotlib-base", "ray": "ray-core"}


def _requirements(lines) -> dict[str, str]:
    """``"jax>=0.12"`` -> ``{"jax": ">=0.12"}``."""
    pairs = (re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", line.strip()).groups() for line in lines)
    return {name.lower(): bounds.replace(" ", "") for name, bounds in pairs}


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _requirements(project["dependencies"])
    for extra in ("jax", "nutpie", "extras", "data", "notebook", "ray", "test"):
        wanted |= _requirements(project["optional-dependencies"][extra])
    conda = _requirements(
        m.group(1) for line in (ROOT / "environment.yml").read_text().splitlines()
        if (m := re.fullmatch(r"\s+- ([^#]+?)\s*(#.*)?", line))
    )
    for name, bounds in wanted.items():
        assert conda.get(CONDA_NAMES.get(name, name)) == bounds, f"environment.yml: {name}{bounds}"


def test_jax_and_numpyro_are_core_dependencies():
    core = _requirements(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    assert core["jax"] == ">=0.12" and core["numpyro"] == ">=0.22"
