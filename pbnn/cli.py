"""The ``pbnn`` command: ``fit``, ``predict``, ``compare`` and ``zoo``.

    pbnn zoo
    pbnn fit models/two_layer_tanh.toml --data moons --method advi --out runs/advi
    pbnn predict runs/advi new_points.csv --out predictions.csv
    pbnn compare models/two_layer_tanh.toml --data moons --methods advi,nuts --out runs/compare

MODEL is a spec file (TOML) or a zoo name; ``--data`` a data set name (moons, circles, digits, sine, ...)
or a CSV/NPY/NPZ path (``--target`` names the target column). Method options: ``--set key=value``
(``fit``) or ``--set method.key=value`` (``compare``), e.g. ``--set nuts.sampler=numpyro``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

EXAMPLE_DATA = "moons, circles, digits, sine, ... (pbnn.datasets.DATASETS) or a .csv/.npy/.npz path"


class CLIError(Exception):
    """A user error: printed as ``pbnn: error: ...`` with exit status 2, no traceback."""


#: Errors whose message is meant for the user; any other is printed with its type (a bug, most likely).
USER_ERRORS = (CLIError, ValueError, TypeError, OSError, ImportError, RuntimeError)


def main(argv: list[str] | None = None) -> int:
    """Run the command; every error is one line ``pbnn: error: ...`` on stderr and exit status 2
    (``--debug``: the traceback instead), Ctrl-C exit status 130."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("pbnn: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug:
            raise
        message = _message(err)
        if not isinstance(err, USER_ERRORS) or isinstance(err, RecursionError | NotImplementedError):
            message = f"{type(err).__name__}: {message} (run with --debug for the traceback)"
        print(f"pbnn: error: {message}", file=sys.stderr)
        return 2


def _message(err: BaseException) -> str:
    """The error's message on one line (a KeyError's without the quotes of its key's repr)."""
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return " ".join(line.strip() for line in text.splitlines() if line.strip()) or type(err).__name__


# -- commands ---------------------------------------------------------------------------------------


def cmd_zoo(args: argparse.Namespace) -> int:
    from pbnn import zoo

    for name in zoo.names():
        spec = zoo.get(name)
        print(f"{name}: {spec.description}" if spec.description else name)
        layers = " -> ".join(layer.describe() for layer in spec.layers)
        print(f"    {layers}; prior {spec.prior.describe()}; likelihood {spec.likelihood}; file {zoo.path(name)}")
        if spec.fit_settings:
            print("    fit: " + ", ".join(f"{k} {v}" for k, v in spec.fit_settings.items()))
    for name in zoo.vae_names():  # fitted from Python: pbnn.fit_vae(pbnn.zoo.get(name), X)
        spec = zoo.get(name)
        print(f"{name}: {spec.description}")
        print(f"    VAE, latent {spec.latent}; likelihood {spec.likelihood}; {spec.describe_decoder()} decoder; "
              f"file {zoo.path(name)}; fitted with pbnn.fit_vae")
        if spec.fit_settings:
            print("    fit: " + ", ".join(f"{k} {v}" for k, v in spec.fit_settings.items()))
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    import pbnn

    from pbnn.rundir import RUN_FILES, check_target

    spec, data = _model(args.model), _data(args)
    options = _options(args.set)
    if args.standardize is not None:  # --no-standardize; --set standardize=false says the same
        options["standardize"] = args.standardize
    method = args.method or spec.fit_method
    out = Path(args.out or f"runs/{spec.name}-{method}")
    _guard(lambda: check_target(out, RUN_FILES), prefix="--out")  # before the fit, not after it
    y_train, y_test, classes = _named_labels(spec, data)
    fit = _guard(lambda: pbnn.fit(spec, data.X_train, y_train, method, seed=args.seed,
                                  progressbar=not args.quiet, classes=classes, **options))
    _guard(lambda: fit.save(out), prefix="--out")
    s = pbnn.scores(fit.predict(data.X_test), y_test)
    score = f"accuracy {float(s['accuracy']):.3f}" if spec.task == "classification" else f"RMSE {float(s['rmse']):.3g}"
    _say(args, f"{spec.name} on {data.name} with {method}: test {score}, lpd {float(s['lpd']):.3f} nats/point, "
               f"{fit.seconds:.1f} s; saved to {out}")
    if args.quiet:
        print(out)  # the one line of -q: where the run is
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import pbnn

    out = Path(args.out)
    _check_output_file(out, (".csv", ".nc"), "a .csv (per-point summary) or .nc (all draws) path")
    run = _guard(lambda: pbnn.load(args.run))
    X = _inputs(Path(args.inputs))
    pred = _guard(lambda: run.predict(X))
    u = pbnn.uncertainty(pred)
    if out.suffix == ".nc":
        pred.idata.to_netcdf(out, engine="h5netcdf")
    else:
        _write_csv(out, _summary_columns(pred, u))
    _say(args, f"{len(X)} predictions from {args.run} written to {out}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import pbnn
    from pbnn.inference.methods import METHODS

    spec, data = _model(args.model), _data(args)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise CLIError(f"--methods: unknown method(s) {', '.join(unknown) or '(none)'}; expected a comma-separated "
                       f"list of {', '.join(METHODS)}")
    options: dict[str, dict[str, Any]] = {m: {} for m in methods}
    for key, value in _options(args.set).items():
        method, _, name = key.partition(".")
        if not name or method not in options:
            raise CLIError(f"--set {key}=...: expected METHOD.OPTION=VALUE with METHOD among {', '.join(methods)}")
        options[method][name] = value
    out = Path(args.out or f"runs/compare-{spec.name}-{data.name}")
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out: {out} is an existing file; expected a folder for the runs and the report")
    cmp = _guard(lambda: pbnn.compare(spec, data, methods, seed=args.seed, options=options,
                                      progressbar=not args.quiet, out=out))
    _say(args, repr(cmp))
    _say(args, f"report: {out / 'report.md'}")
    return 0


# -- argument handling ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pbnn", description="Bayesian neural networks on PyMC.",
                                     epilog="Run 'pbnn COMMAND --help' for a command's options.")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    zoo = sub.add_parser("zoo", help="list the zoo's models", description="List the zoo's models with their layers.")
    zoo.set_defaults(handler=cmd_zoo)

    def common(p: argparse.ArgumentParser, data: bool = True) -> None:
        if data:
            p.add_argument("model", help="spec file (.toml) or zoo model name")
            p.add_argument("--data", required=True, help=f"data set: {EXAMPLE_DATA}")
            p.add_argument("--target", help="target column of a CSV/NPY file (name or index; default: the last)")
            p.add_argument("--seed", type=int, default=0, help="seed of the split and the fit (default 0)")
        p.add_argument("--quiet", "-q", action="store_true", help="no progress bars or messages ('fit' prints "
                       "only the run's folder)")
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of an error instead of one line")

    from pbnn.inference.methods import METHODS, help_text  # light: the registry without the engines

    fit = sub.add_parser("fit", help="fit a model and save the run", description="Fit a model, save the run "
                         "(spec.toml + idata.nc) and print its test score.",
                         epilog="methods and their options [defaults] (--set OPTION=VALUE):\n" + help_text(),
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    common(fit)
    fit.add_argument("--method", help=f"{', '.join(METHODS)} (default: the model's [fit] table, else advi; the "
                     "table's settings apply to its method unless --set overrides them)")
    fit.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a method option, e.g. steps=5000")
    fit.add_argument("--out", help="run directory (default runs/MODEL-METHOD)")
    fit.add_argument("--no-standardize", dest="standardize", action="store_false", default=None,
                     help="feed the features to the network as they are (default: standardized with the training "
                          "mean and sd, images only outside [0, 1]; stored with the run)")
    fit.set_defaults(handler=cmd_fit)

    predict = sub.add_parser("predict", help="predict with a saved run", description="Predict new inputs with a "
                             "saved run: a per-point summary (.csv) or every draw (.nc).")
    predict.add_argument("run", help="directory written by 'pbnn fit' or Fit.save")
    predict.add_argument("inputs", help="inputs: .csv (numeric, optional header) or .npy, one row per point")
    predict.add_argument("--out", required=True, help="output file: .csv or .nc")
    common(predict, data=False)
    predict.set_defaults(handler=cmd_predict)

    compare = sub.add_parser("compare", help="compare methods side by side", description="Fit several methods on "
                             "the same split and seed; write one run per method, table.csv, report.md and figures.",
                             epilog="methods and their options [defaults] (--set METHOD.OPTION=VALUE):\n"
                             + help_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    common(compare)
    compare.add_argument("--methods", default="advi,nuts", help="comma-separated methods (default advi,nuts)")
    compare.add_argument("--set", action="append", default=[], metavar="METHOD.KEY=VALUE",
                         help="a method option, e.g. nuts.sampler=numpyro or advi.steps=20000")
    compare.add_argument("--out", help="output directory (default runs/compare-MODEL-DATA)")
    compare.set_defaults(handler=cmd_compare)
    return parser


def _model(text: str):
    from pbnn import load_spec, zoo

    path = Path(text)
    if path.is_dir():
        raise CLIError(f"model: {text!r} is a folder; expected a spec file (.toml) or a zoo model name")
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise CLIError(f"model: no such spec file {text!r}")
        return _bnn(text, _guard(lambda: load_spec(path)))
    if text in zoo.names() or text in zoo.vae_names():
        return _bnn(text, zoo.get(text))
    raise CLIError(f"model: {text!r} is neither a spec file nor a zoo model; zoo models: {', '.join(zoo.names())}")


def _bnn(text: str, spec):
    """``spec`` if it is a BNN: the command line fits BNNs (a VAE is fitted from Python)."""
    from pbnn.spec import BNN

    if not isinstance(spec, BNN):
        raise CLIError(f"model: {text!r} is a {type(spec).__name__} spec; the command line fits BNNs: fit it from "
                       "Python with pbnn.fit_vae(pbnn.load_spec(...), X)")
    return spec


def _data(args: argparse.Namespace):
    from pbnn import datasets
    from pbnn.validation import check_seed

    _guard(lambda: check_seed(args.seed))  # the split's and the fit's
    target: int | str | None = args.target
    if target is not None and target.lstrip("-").isdigit():
        target = int(target)
    kwargs = {"target": target} if target is not None else {}
    return _guard(lambda: datasets.load(args.data, seed=args.seed, **kwargs), prefix="--data")


def _options(items: list[str]) -> dict[str, Any]:
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CLIError(f"--set {item!r}: expected KEY=VALUE")
        options[key.strip()] = _value(value.strip())
    return options


def _value(text: str) -> Any:
    """``3000`` -> 3000, ``0.01`` -> 0.01, ``true`` -> True, ``none`` -> None, anything else a string."""
    lowered = text.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _inputs(path: Path) -> np.ndarray:
    if not path.is_file():
        raise CLIError(f"inputs: no such file {str(path)!r}")
    if path.suffix == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except ValueError as err:  # an object array (pickled) or a damaged file
            what = "Python objects (pickled); pbnn reads numeric arrays only" if "allow_pickle" in str(err) else str(err)
            raise CLIError(f"inputs: {path} holds {what}") from None
    if path.suffix in (".csv", ".txt"):
        with path.open() as f:
            first = f.readline()
        skip = 0 if _numeric(first) else 1
        try:
            X = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
        except ValueError as err:
            raise CLIError(f"inputs: {path} is not a numeric CSV ({err})") from None
        return X
    raise CLIError(f"inputs: expected a .csv or .npy file, got {str(path)!r}")


def _numeric(line: str) -> bool:
    try:
        [float(v) for v in line.strip().split(",")]
        return True
    except ValueError:
        return False


def _named_labels(spec, data) -> tuple[np.ndarray, np.ndarray, tuple | None]:
    """A classifier's training and test labels as the data set names them (CSV: the column's values)."""
    if spec.task != "classification" or data.classes is None:
        return data.y_train, data.y_test, None
    names = np.asarray(data.classes)
    return names[data.y_train], names[data.y_test], tuple(data.classes)


def _summary_columns(pred, u) -> dict[str, np.ndarray]:
    """The per-point summary: ``class, p_<class name>..., entropy, epistemic`` or the regression columns."""
    if pred.task == "classification":
        mean = u["mean"].values
        probs = {f"p_{name}": mean[:, k] for k, name in enumerate(pred.labels.names)}
        return {"class": pred.classes(), **probs, "entropy": u["entropy"].values, "epistemic": u["epistemic"].values}
    return {k: u[k].values for k in ("mean", "epistemic_std", "aleatoric_std", "total_std", "lower", "upper")}


def _write_csv(path: Path, columns: dict[str, np.ndarray]) -> None:
    import csv

    def cell(v) -> str:
        return f"{v:.6g}" if isinstance(v, float) else str(v)

    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows([cell(v) for v in row] for row in zip(*(c.tolist() for c in columns.values())))


def _check_output_file(out: Path, suffixes: tuple[str, ...], form: str) -> None:
    """Before any work: ``out`` has one of ``suffixes``, its folder exists and it is not a folder itself."""
    if out.suffix not in suffixes:
        raise CLIError(f"--out: expected {form}, got {str(out)!r}")
    if out.is_dir():
        raise CLIError(f"--out: {str(out)!r} is a folder; expected {form}")
    if not out.parent.is_dir():
        raise CLIError(f"--out: the folder {str(out.parent)!r} does not exist; create it first")


def _guard(call, prefix: str | None = None):
    """Run ``call``; pbnn's and the data loaders' user errors become :class:`CLIError` with ``prefix``."""
    try:
        return call()
    except (ValueError, TypeError, OSError, ImportError) as err:
        message = _message(err)
        raise CLIError(f"{prefix}: {message}" if prefix else message) from None


def _say(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message)


if __name__ == "__main__":
    sys.exit(main())
