"""The glibc allocator settings of backend/cpu.py: set at import on glibc Linux, left alone
with TINYGRAD_NV_MALLOPT=0 or where the user set glibc's own variable; a step that frees
hundreds of MiB does not fault them in again."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tinygrad_nv.backend import cpu

GLIBC = sys.platform.startswith("linux") and hasattr(os, "confstr") \
    and os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
needs_glibc = pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's (Linux)")

STEP = """
import resource, numpy as np, tinygrad_nv
def step():  # 200 MiB of 8 MiB temporaries, freed together (a CIFAR ResNet step's size)
    arrays = [np.ones(1 << 20) for _ in range(25)]
    return sum(float(a[-1]) for a in arrays)
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def faults_per_step(**env: str) -> float:
    clean = {k: v for k, v in os.environ.items()
             if k not in (cpu.SWITCH, "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")}
    out = subprocess.run([sys.executable, "-c", STEP], env={**clean, **env}, check=True,
                         capture_output=True, text=True)
    return float(out.stdout)


@needs_glibc
def test_import_keeps_freed_temporaries_in_the_process():
    assert faults_per_step() < 50  # 200 MiB is ~51k pages
    assert faults_per_step(**{cpu.SWITCH: "0"}) > 1000  # glibc's defaults trim and refault
    # a trim threshold below what a step frees (glibc's own variable wins) refaults as well
    assert faults_per_step(MALLOC_TRIM_THRESHOLD_=str(64 << 20)) > 1000


@needs_glibc
def test_settings_and_switches():
    expected = {param: value for param, (variable, value) in cpu.MALLOPT.items()
                if variable not in os.environ and os.environ.get(cpu.SWITCH) != "0"}
    assert cpu.ALLOCATOR == expected  # what the import of this test process set
    assert cpu.tune_allocator({cpu.SWITCH: "0"}) == {}
    assert cpu.tune_allocator({"MALLOC_TRIM_THRESHOLD_": "1"}) == {cpu.M_MMAP_THRESHOLD: 32 << 20}
    assert cpu.tune_allocator({}) == cpu.ALLOCATOR


def test_nothing_is_set_off_glibc(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert cpu.tune_allocator({}) == {}
