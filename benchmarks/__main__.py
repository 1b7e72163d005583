"""tinygrad_nv side by side with NumPy/CuPy and PyTorch: one command, JSON + Markdown + PNG.

    python -m benchmarks                        # every suite, full sizes, on the default device
    python -m benchmarks --quick                # every suite, small repeats (< 2 min on a CPU)
    python -m benchmarks --suite mlp cnn --device cuda --out results/h100
    python -m benchmarks --suite mlp --clock cpu     # on a shared machine: CPU time
    python -m benchmarks --suite matmul --threads 0  # BLAS and PyTorch on all their threads
    python -m benchmarks --suite gpt --no-scipy      # as a plain install runs: no SciPy

Writes results.json (machine, library versions, device, every figure with its spread),
results.md (one table) and one PNG per suite into --out. Figures are medians over the repeats
after warm-up with the device synchronised; ratios are measured in the same run.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.abc
import os
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

SUITES = ("overhead", "matmul", "mlp", "cnn", "transformer", "gpt", "lstm", "amp",
          "kernels", "memory", "distributed")
BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.split("\n")[1:]))
    parser.add_argument("--suite", nargs="+", choices=SUITES, metavar="NAME",
                        help=f"suites to run (default: all of {', '.join(SUITES)})")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda[:N] or emu (default: the default device: cuda where "
                             "CuPy sees a GPU, else cpu)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and steps (figures noisier; sizes as in the issue)")
    parser.add_argument("--out", default="benchmark-results", type=Path,
                        help="folder for results.json, results.md and the plots "
                             "(default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="samples per figure (default: each suite's, fewer with --quick)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: elapsed time (default); cpu: this process's CPU time, "
                             "steadier on a shared machine (BLAS threads add up)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS and PyTorch threads for everyone; 0: the libraries' own "
                             "(default: 1 on the CPU, so that every column is one core's work "
                             "and a shared machine does not thrash; the libraries' own on a GPU)")
    parser.add_argument("--no-scipy", action="store_true",
                        help="refuse every import of SciPy in this process, as on a plain "
                             "`pip install tinygrad_nv` (each suite notes whether SciPy was "
                             "loaded either way)")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # tests only
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    if args.threads is not None and args.threads < 0:
        parser.error(f"--threads must be 0 (the libraries' own) or more, got {args.threads}")
    return args


def progress_printer(total: int):
    """A tqdm bar on a terminal, plain lines on stderr otherwise."""
    if sys.stderr.isatty():
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            bar = tqdm(total=total, unit="suite", leave=False)
            return bar.set_description, bar.update, bar.close

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)
    return say, lambda n: None, lambda: None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    if args.no_scipy:
        block_scipy()
    if args.threads:  # before NumPy loads its BLAS
        for name in BLAS_THREADS:
            os.environ[name] = str(args.threads)
    from benchmarks import report
    from benchmarks.harness import Settings
    from tinygrad_nv.backend import canonicalize, get_backend

    try:
        device = canonicalize(args.device)
        get_backend(device)  # a clear error now, not inside a suite
    except (ValueError, RuntimeError) as e:
        print(f"python -m benchmarks: error: {e}", file=sys.stderr)
        return 2
    threads = args.threads if args.threads is not None else 0 if device.startswith("cuda") else 1
    names = args.suite or list(SUITES)
    say, advance, close = progress_printer(len(names))
    settings = Settings(device=device, quick=args.quick, repeat=args.repeat, clock=args.clock,
                        threads=threads, tiny=args.tiny, progress=say)
    results, started = [], time.perf_counter()
    with limited_threads(threads):
        for name in names:
            say(f"{name}: running")
            suite_start = time.perf_counter()
            suite = importlib.import_module(f"benchmarks.suites.{name}").run(settings)
            suite.seconds = time.perf_counter() - suite_start
            suite.notes.append(scipy_note())
            say(f"{name}: done in {suite.seconds:.1f} s")
            results.append(suite)
            advance(1)
    close()
    result = report.to_json(results, settings, argv)
    written = report.write(result, args.out)
    print(report.summary(result))
    print(f"wrote {', '.join(str(p) for p in written)} in {time.perf_counter() - started:.0f} s")
    return 1 if any(suite.failures for suite in results) else 0


class _NoScipy(importlib.abc.MetaPathFinder):
    """Refuses scipy and its submodules, as if it were not installed."""

    def find_spec(self, name: str, path=None, target=None):
        if name == "scipy" or name.startswith("scipy."):
            raise ModuleNotFoundError(f"No module named {name!r} (python -m benchmarks "
                                      "--no-scipy)", name=name)
        return None


def block_scipy() -> None:
    """SciPy unimportable from now on in this process (it must not be loaded yet)."""
    if "scipy" in sys.modules:
        raise RuntimeError("--no-scipy: SciPy is already imported")
    sys.meta_path.insert(0, _NoScipy())


def scipy_note() -> str:
    """Whether anything in the process loaded SciPy (what a plain install does not have)."""
    if "scipy" in sys.modules:
        return "SciPy was loaded in this process (a plain install has none: try --no-scipy)"
    blocked = any(isinstance(f, _NoScipy) for f in sys.meta_path)
    return "SciPy " + ("blocked (--no-scipy): not loaded" if blocked else "not loaded")


@contextmanager
def limited_threads(threads: int):
    """BLAS (through threadpoolctl, where installed) and PyTorch on `threads` threads inside;
    0: leave them alone."""
    if not threads:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        blas = nullcontext()
    else:
        blas = threadpool_limits(threads)
    try:
        import torch
    except ImportError:
        torch = None
    previous = torch.get_num_threads() if torch else None
    with blas:
        if torch:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            if torch:
                torch.set_num_threads(previous)


if __name__ == "__main__":
    sys.exit(main())
