"""CUDA graphs on a GPU (TINYGRAD_NV_CUDA_GRAPHS=1, jit/capture.py's CudaRuntime): the examples'
MLP step (two GEMMs, dropout, Adam under a changing learning rate) is one graph launch per step
after the warm-up, with eager's numbers. Skips without a GPU; it has not run yet (no GPU was
lent to this work): the same flow is tested on emu (test_capture.py)."""

from __future__ import annotations

import pytest

import tinygrad_nv as tg
from tests.jit.models import eager_and_jitted
from tinygrad_nv.backend import cuda_unavailable_reason
from tinygrad_nv.jit import capture
from tinygrad_nv.jit.graph import CUDA_GRAPHS_ENV

REASON = cuda_unavailable_reason()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(REASON is not None,
                                                  reason=f"no CUDA device: {REASON}")]


def test_the_mlp_step_is_one_cuda_graph_launch_with_eagers_numbers(monkeypatch):
    monkeypatch.setenv(CUDA_GRAPHS_ENV, "1")
    launches = []
    launch = capture.CudaGraph.launch
    monkeypatch.setattr(capture.CudaGraph, "launch",
                        lambda self: launches.append(self) or launch(self))
    fn = eager_and_jitted("mlp", "adam", "cuda", 128, tg.jit)
    assert fn.replays == 18 and len(launches) == 17  # the first replay is the warm-up
    assert len({id(graph) for graph in launches}) == 1
