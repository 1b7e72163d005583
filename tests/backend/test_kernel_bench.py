"""benchmarks/kernels.py and the `kernels` suite: every case checked on emu, and each kernel's
predicted H100 time at the benchmark sizes (bytes at 3.35 TB/s plus launch overhead)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import kernels as kernel_bench
from benchmarks.harness import Settings
from benchmarks.suites import kernels as kernels_suite

pytestmark = pytest.mark.emu


def test_the_prediction_is_bytes_at_h100_bandwidth_plus_launches():
    cases = {c.name: c for c in kernel_bench.make_cases(True, np.float32)}
    gelu = cases["act_forward gelu"]
    assert gelu.moved == 2 * 4 * 2**24 and gelu.launches == 1
    assert gelu.predicted_seconds == pytest.approx(2 * 4 * 2**24 / 3.35e12 + 5e-6)
    # 65536 rows: two launches (chunks, then their sum); the old version one
    assert cases["bias_grad"].launches == 2
    assert cases["bias_grad [old: one row chunk]"].launches == 1
    assert cases["adam_multi decoupled [old: adam_step per tensor]"].launches == 32
    assert kernel_bench.prediction(gelu) == "134.2 MB, 0.084 GFLOP, 1 launch: 45.1 us"


def test_the_benchmark_sizes_are_described_without_being_allocated():
    """The GPU-size cases make their (gigabytes of) inputs only when they run."""
    for case in kernel_bench.make_cases(True, np.float64):
        assert callable(case.make) and case.moved > 0 and case.flops >= 0


def test_the_command_checks_every_case_on_emu_and_predicts(capsys):
    assert kernel_bench.main(["--device", "emu", "softmax", "cross_entropy"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out if " ok " in line]
    assert len(rows) == 9 and all("| " in row and row.endswith(" us") for row in rows)
    assert "cross_entropy mean 10 classes" in "\n".join(rows)


def test_the_suite_notes_the_prediction_of_every_kernel_on_emu():
    suite = kernels_suite.run(Settings(device="emu", tiny=True))
    predicted = [n for n in suite.notes if n.endswith(" us") and " MB, " in n]
    assert len(predicted) == len(kernel_bench.make_cases(False, np.float32)[::4])
    assert predicted[0] == "act_forward gelu 16777216: 134.2 MB, 0.084 GFLOP, 1 launch: 45.1 us"
    assert suite.failures == []
