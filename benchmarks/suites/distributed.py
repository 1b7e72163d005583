"""distributed: data-parallel step time of the digits MLP and a small CNN on 1 and 2 processes
(benchmarks/distributed.py under mpiexec: MPI on the CPU, NCCL between GPUs), and the same
2-process step without its all-reduce (the difference is the communication)."""

from __future__ import annotations

from benchmarks import distributed as data_parallel
from benchmarks.harness import OURS, Row, Settings, Stat, Suite

NAME = "distributed"
ONE, LOCAL = "1 process", "2 processes, no all-reduce"  # the figures beside the 2-process step


def run(settings: Settings) -> Suite:
    suite = Suite(NAME)
    try:
        import mpi4py  # noqa: F401
        data_parallel.mpiexec()
    except (ImportError, RuntimeError) as e:
        suite.notes.append(f"skipped: {e} (pip install 'tinygrad_nv[distributed]')")
        return suite
    models = settings.size(data_parallel.MODELS, data_parallel.MODELS, ("mlp",))
    steps = settings.samples(40, 10)
    settings.progress(f"distributed: {', '.join(models)} on 1 and 2 processes")
    device = "cuda" if settings.gpu else settings.device
    rows = data_parallel.measure((1, 2), tuple(models), steps=steps, device=device)
    by_key = {(r["model"], r["processes"]): r for r in rows}
    for model in models:
        one, two = by_key[(model, 1)], by_key[(model, 2)]
        suite.rows.append(Row(f"{model} step, global batch {two['batch']}, 2 processes", "ms",
                              {OURS: Stat.of(two["step_samples_ms"]),
                               ONE: Stat.of(one["step_samples_ms"]),
                               LOCAL: Stat.of(two["local_step_samples_ms"])}))
        suite.notes.append(f"{model}: {100 * two['comm_fraction']:.0f}% of the 2-process step "
                           f"is communication; all-reduce of all gradients "
                           f"{two['all_reduce_ms']:.3f} ms; each figure a median over {steps} "
                           "steps")
    return suite
