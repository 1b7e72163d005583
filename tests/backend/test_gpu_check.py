"""benchmarks/gpu_check.sh keeps to its budget and writes its summary as it goes, and
benchmarks/gpu_steps.py compares training steps with PyTorch's (on emu here; CI runs the whole
dry run)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PHASES = ["preflight", "kernels", "boundary", "bandwidth", "steps", "gpu-tests", "suite",
          "memcheck", "racecheck"]

pytestmark = pytest.mark.emu


def run_check(tmp_path, *args, budget: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "OUT": str(tmp_path), "GPU_CHECK_BUDGET": str(budget),
           "PYTHON": os.environ.get("PYTHON", "python")}
    return subprocess.run(["bash", str(REPO / "benchmarks/gpu_check.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_a_run_cut_short_still_leaves_a_line_per_phase(tmp_path):
    """With 12 s, preflight (and maybe a phase more) runs, the later ones are skipped for the
    budget; every phase has its summary line and its log, and the run fails: incomplete."""
    proc = run_check(tmp_path, "--dry-run", budget=12)
    summary = (tmp_path / "gpu_check/summary.txt").read_text().splitlines()
    phases = [line.split()[0] for line in summary[2:-1]]
    assert phases == PHASES, summary
    assert summary[-1].startswith("==== gpu_check: ") and "of 12s" in summary[-1]
    statuses = {line.split()[0]: line.split()[1] for line in summary[2:-1]}
    assert statuses["preflight"] in ("PASS", "TIMEOUT")
    assert statuses["suite"] == "SKIPPED" and statuses["memcheck"] == "SKIPPED"
    assert "skipped: no time left in the budget" in summary[-4]  # the suite
    assert all((tmp_path / f"gpu_check/{p}.log").exists() for p in PHASES[:7])
    assert proc.returncode == 1  # incomplete


def test_unknown_arguments_are_refused(tmp_path):
    proc = run_check(tmp_path, "--gpu", budget=10)
    assert proc.returncode == 2 and "the one option is --dry-run" in proc.stderr


def test_training_steps_agree_with_pytorch_and_a_difference_shows(monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    from benchmarks import gpu_steps

    assert gpu_steps.main(["--device", "emu", "--tiny", "--steps", "1", "mlp", "lstm"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("RESULT ok: 2 of 2 models agree")
    smoothed = torch.nn.functional.cross_entropy
    monkeypatch.setattr(torch.nn.functional, "cross_entropy",
                        lambda z, y: smoothed(z, y, label_smoothing=0.2))
    assert gpu_steps.main(["--device", "emu", "--tiny", "--steps", "1", "mlp"]) == 1
    out = capsys.readouterr().out
    assert "mlp          losses DIFFER" in out and "RESULT bad: 0 of 1" in out
