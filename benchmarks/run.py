"""Run benchmarks and update their sections of ``benchmarks/RESULTS.md``.

    python -m benchmarks.run                 # every bench_*.py module
    python -m benchmarks.run advi predict    # only these (bench_advi.py, bench_predict.py)
    python -m benchmarks.run --quick advi    # fewer repeats/steps: checks the script, not for the record
    python -m benchmarks.run uci --ray       # the fits as Ray tasks (a local Ray; --ray-address: a cluster)

Sections are delimited by ``<!-- bench:NAME -->`` markers, so running one benchmark keeps the others' results.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
import time
from pathlib import Path

from benchmarks.common import header

HERE = Path(__file__).parent
RESULTS = HERE / "RESULTS.md"
TITLE = "# pbnn benchmark results\n\nWritten by `make bench` (`python -m benchmarks.run`); each section records when, where and with which versions it was measured.\n"


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def update_section(text: str, name: str, body: str) -> str:
    """Replace (or append) the ``name`` section of RESULTS.md's ``text`` with ``body``."""
    block = f"<!-- bench:{name} -->\n{body.strip()}\n<!-- /bench:{name} -->"
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text)
    return text.rstrip() + "\n\n" + block + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(available())})")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and steps; does not write RESULTS.md")
    parser.add_argument("--ray", action="store_true", help="run the fits as Ray tasks (benchmarks whose run() takes "
                        "ray: uci), on a local Ray unless --ray-address or $PBNN_RAY_ADDRESS names a cluster")
    parser.add_argument("--ray-address", metavar="ADDRESS", help="the Ray cluster of --ray (implies --ray)")
    parser.add_argument("--workers", type=int, metavar="N", help="CPUs of the local Ray of --ray (default: all)")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; expected some of {', '.join(available())}")
    ray = {"workers": args.workers, "address": args.ray_address} if args.ray or args.ray_address else None
    if ray is None and args.workers is not None:
        parser.error("--workers: the size of the local Ray of --ray")
    modules = {name: importlib.import_module(f"benchmarks.bench_{name}") for name in names}
    serial = [name for name, module in modules.items() if "ray" not in inspect.signature(module.run).parameters]
    if ray is not None and serial:
        parser.error(f"--ray: {', '.join(serial)}: its run() fits in turn (no ray parameter)")
    for name, module in modules.items():
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        body = module.run(quick=args.quick, **({"ray": ray} if ray is not None else {}))
        took = time.perf_counter() - t0
        title = getattr(module, "TITLE", name)
        section = f"## {title}\n\n{header()} Benchmark wall time {took:.0f} s.\n\n{body}"
        print(section, flush=True)
        if not args.quick:  # read just before writing: benchmarks run at the same time keep each other's sections
            text = update_section(RESULTS.read_text() if RESULTS.exists() else TITLE, name, section)
            tmp = RESULTS.with_suffix(".md.tmp")
            tmp.write_text(text)
            tmp.replace(RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
