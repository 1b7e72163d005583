"""What every suite shares: the settings of a run, timing with warm-up and device
synchronisation, the statistics of a figure, and the rows a suite reports.

A suite is a module with `NAME`, a one-line `__doc__` and `run(settings) -> Suite`. Its figures
are medians over `settings.repeat` samples taken after warm-up; implementations compared with
each other are timed round-robin inside one loop, so a change of load on a shared machine hits
all of them alike, and every ratio comes from one run.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

OURS = "tinygrad_nv"
JIT = f"{OURS} jit"  # the same step through tinygrad_nv.jit: recorded once, then replayed
EAGER = f"{OURS} eager"  # OURS's eager step, in the rows of the jitted one


@dataclass
class Settings:
    """One run of the suite: where, how long, and how big."""

    device: str = "cpu"
    quick: bool = False
    repeat: int | None = None  # samples per figure; None: the suite's default for the mode
    clock: str = "wall"  # wall (perf_counter) or cpu (process_time: this process's CPU time)
    threads: int = 0  # BLAS and PyTorch threads; 0: the libraries' own
    tiny: bool = False  # test knob: smallest sizes and repeats, figures meaningless
    progress: Callable[[str], None] = field(default=lambda message: None, repr=False)

    def samples(self, full: int, quick: int) -> int:
        """Samples per figure: --repeat if given, else the suite's default for the mode."""
        if self.repeat is not None:
            return max(1, self.repeat)
        if self.tiny:
            return 2
        return quick if self.quick else full

    def size(self, full: Any, quick: Any, tiny: Any) -> Any:
        """The problem size for this mode."""
        return tiny if self.tiny else quick if self.quick else full

    @property
    def gpu(self) -> bool:
        return self.device.startswith("cuda")

    def timer(self) -> Callable[[], float]:
        return time.process_time if self.clock == "cpu" else time.perf_counter


@dataclass
class Stat:
    """A figure: the median of the samples and their spread (quartiles, min, max)."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, samples: list[float]) -> Stat:
        if len(samples) >= 2:
            q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
        else:
            q1 = q3 = samples[0]
        return cls(statistics.median(samples), q1, q3, min(samples), max(samples), len(samples))

    def scaled(self, factor: float) -> Stat:
        """The same figure in another unit (factor > 0: seconds -> milliseconds)."""
        return Stat(self.median * factor, self.q1 * factor, self.q3 * factor, self.min * factor,
                    self.max * factor, self.n)

    def inverted(self, numerator: float) -> Stat:
        """numerator / sample for every sample statistic (time -> throughput)."""
        return Stat(numerator / self.median, numerator / self.q3, numerator / self.q1,
                    numerator / self.max, numerator / self.min, self.n)


@dataclass
class Target:
    """A goal from the issue: ratio of ours to `against` at most (or at least) `bound`."""

    against: str
    bound: float
    at_most: bool = True
    floor: float = 0.0  # theirs counts as at least this much (a count that may be 0)

    def met(self, ratio: float) -> bool:
        return ratio <= self.bound if self.at_most else ratio >= self.bound

    def met_by(self, ours: float, theirs: float) -> bool | None:
        """Whether the medians meet it (None when theirs is 0 and there is no floor)."""
        theirs = max(theirs, self.floor)
        return None if theirs == 0 else self.met(ours / theirs)

    def __str__(self) -> str:
        floor = f" (at least {self.floor:g})" if self.floor else ""
        return f"{'<=' if self.at_most else '>='} {self.bound:g}x {self.against}{floor}"


@dataclass
class Row:
    """One case of a suite: a figure per implementation, and ours as a ratio to each other."""

    case: str
    unit: str
    figures: dict[str, Stat]
    targets: list[Target] = field(default_factory=list)
    noise: float = 0.0  # medians closer than this (in `unit`) differ by noise only

    def ratio(self, against: str) -> float | None:
        """Ours over `against` (medians), None when either is missing."""
        theirs = self.figures.get(against)
        if OURS not in self.figures or theirs is None or theirs.median == 0:
            return None
        return self.figures[OURS].median / self.figures[against].median

    @property
    def ratios(self) -> dict[str, float | None]:
        return {name: self.ratio(name) for name in self.figures if name != OURS}

    def to_json(self) -> dict:
        targets = []
        for target in self.targets:
            theirs = self.figures.get(target.against)
            met = None if OURS not in self.figures or theirs is None else \
                target.met_by(self.figures[OURS].median, theirs.median)
            targets.append({**asdict(target), "text": str(target), "met": met})
        return {"case": self.case, "unit": self.unit,
                "figures": {name: asdict(stat) for name, stat in self.figures.items()},
                "ratios": self.ratios, "targets": targets, "noise": self.noise}


@dataclass
class Suite:
    """What a suite returns: its rows, notes (what was skipped and why, checks passed) and
    failures (wrong results: the run exits with status 1)."""

    name: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0  # how long the suite took, warm-up and checks included


def time_round_robin(fns: dict[str, Callable[[], object]], settings: Settings, samples: int,
                     sync: Callable[[], None] | None = None, warmup: int = 2,
                     inner: int = 1) -> dict[str, Stat]:
    """Seconds per call of each function: `warmup` calls each, then `samples` rounds in which
    every function runs `inner` times in turn, the device synchronised around each sample."""
    sync = sync or (lambda: None)
    clock = settings.timer()
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    sync()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(samples):
        for name, fn in fns.items():
            start = clock()
            for _ in range(inner):
                fn()
            sync()
            times[name].append((clock() - start) / inner)
    return {name: Stat.of(t) for name, t in times.items()}


def page_faults(fns: dict[str, Callable[[], object]], samples: int,
                sync: Callable[[], None] | None = None) -> dict[str, Stat]:
    """Minor page faults per call of each function (getrusage of this process), calls taken
    round-robin after the timing warmed them up: memory a step gives back to the OS and
    faults in again every time. {} where the platform has no getrusage."""
    try:
        import resource
    except ImportError:
        return {}
    sync = sync or (lambda: None)
    counts: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(samples):
        for name, fn in fns.items():
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            fn()
            sync()
            counts[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return {name: Stat.of(c) for name, c in counts.items()}


def fault_rows(fns: dict[str, Callable[[], object]], settings: Settings, what: str = "step",
               sync: Callable[[], None] | None = None) -> list[Row]:
    """The row of minor page faults per step of a training suite (none without getrusage);
    the target: within 2x of PyTorch's, PyTorch's counted as at least the noise."""
    faults = page_faults(fns, settings.samples(20, 5), sync)
    if not faults:
        return []
    return [Row(f"minor page faults per {what}", "faults", faults,
                [Target("torch", 2.0, floor=FAULT_NOISE)], noise=FAULT_NOISE)]


FAULT_NOISE = 50.0  # faults per step: a few pages of Python objects come and go


def training_step(model, opt, x, y) -> Callable[[], object]:
    """Our cross-entropy training step on fixed data, as the suites time it."""
    import tinygrad_nv.nn.functional as F

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def with_jit(fns: dict[str, Callable[[], object]]) -> dict[str, Callable[[], object]]:
    """fns and, as JIT, OURS's step jitted (its warm-up calls run it eagerly, then record)."""
    from tinygrad_nv import jit
    return {**fns, JIT: jit(fns[OURS])}


def jit_rows(case: str, stats: dict[str, Stat], fns: dict, targets: list[Target] | None = None,
             unit: str = "ms") -> tuple[dict[str, Stat], list[Row]]:
    """(the eager row's figures: all but JIT's; the rows of the jitted step: its figure as
    ours against eager's and the others', then the one-off cost of its recording against one
    eager step). `stats` in seconds; figures in `unit` (ms or us)."""
    scale = {"ms": 1e3, "us": 1e6}[unit]
    scaled = {k: v.scaled(scale) for k, v in stats.items()}
    eager = {k: v for k, v in scaled.items() if k != JIT}
    jitted = {OURS: scaled[JIT], EAGER: scaled[OURS],
              **{k: v for k, v in eager.items() if k != OURS}}
    record = Stat.of([fns[JIT].record_seconds * scale])
    return eager, [Row(f"{case}, jit", unit, jitted, targets or []),
                   Row(f"{case}, jit recording (once, wall clock)", unit,
                       {OURS: record, EAGER: scaled[OURS]})]


def torch_or_reason(device: str) -> tuple[Any, str]:
    """(torch, torch device) or (None, why PyTorch is left out) for a comparison on `device`."""
    try:
        import torch
    except ImportError:
        return None, "PyTorch is not installed: its columns are left out"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            return None, "PyTorch sees no CUDA device: its columns are left out"
        return torch, device
    return torch, "cpu"  # cpu, and emu (which runs on the CPU)


def torch_sync(torch, device: str) -> Callable[[], None]:
    if device.startswith("cuda"):
        return torch.cuda.synchronize
    return lambda: None


def printable(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def torch_copy(torch, model, torch_model, torch_device: str):
    """`torch_model` on `torch_device` with `model`'s weights (state_dict keys are PyTorch's)."""
    torch_model.load_state_dict({k: torch.tensor(v.numpy())
                                 for k, v in model.state_dict().items()})
    return torch_model.to(torch_device)


def check_same_loss(ours: float, theirs: float, what: str) -> str:
    """Raise unless both implementations computed the same first loss; the note saying so."""
    if not abs(ours - theirs) <= 1e-4 * max(1.0, abs(theirs)):
        raise AssertionError(f"{what}: first loss {ours} differs from PyTorch's {theirs}: "
                             "the two do not compute the same thing")
    return f"{what}: same weights, same first loss as PyTorch ({ours:.6g})"


def call_all(fns: list[Callable[[], object]]) -> Callable[[], None]:
    """One function calling each of `fns` in order, as the list holds them when it is called
    (a suite's device synchronisations: ours, then PyTorch's where it runs)."""
    def call() -> None:
        for fn in fns:
            fn()
    return call


def model_step(model, opt) -> Callable[..., object]:
    """The training step of a model whose forward returns the loss: zero_grad, loss,
    backward, optimizer step (PyTorch's API, so it runs in both worlds)."""
    def step(*inputs):
        opt.zero_grad(set_to_none=True)
        loss = model(*inputs)
        loss.backward()
        opt.step()
        return loss
    return step


def both_worlds(suite: Suite, settings: Settings, make_model: Callable, make_opt: Callable,
                arrays: tuple, what: str) -> tuple[dict[str, Callable[[], object]],
                                                   Callable[[], None]]:
    """({OURS: step, "torch": step}, sync): `make_model(lib)` and `make_opt(lib, params)`
    built from tinygrad_nv and from PyTorch with our weights, stepping on `arrays` (host
    arrays, the model's inputs); notes the first-loss check, or why PyTorch is left out."""
    import tinygrad_nv
    from tinygrad_nv.backend import get_backend

    tinygrad_nv.manual_seed(0)
    model = make_model(tinygrad_nv).to(settings.device)
    ours = model_step(model, make_opt(tinygrad_nv, model.parameters()))
    inputs = [tinygrad_nv.tensor(a, device=settings.device) for a in arrays]
    fns, syncs = {OURS: lambda: ours(*inputs)}, [get_backend(settings.device).synchronize]
    torch, torch_device = torch_or_reason(settings.device)
    if torch is None:
        suite.notes.append(torch_device)
    else:
        t_model = torch_copy(torch, model, make_model(torch), torch_device)
        theirs = model_step(t_model, make_opt(torch, t_model.parameters()))
        t_inputs = [torch.tensor(a, device=torch_device) for a in arrays]
        fns["torch"] = lambda: theirs(*t_inputs)
        syncs.append(torch_sync(torch, torch_device))
        suite.notes.append(check_same_loss(float(fns[OURS]().item()),
                                           float(fns["torch"]().item()), what))

    sync = call_all(syncs)
    return fns, sync
