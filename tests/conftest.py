"""Shared fixtures: the device every test runs on, and the hypothesis profiles."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from tinygrad_nv import Tensor
from tinygrad_nv.backend import ENV_VAR, canonicalize, cuda_unavailable_reason

# the `device` fixture is session-wide and the seed fixture only reseeds: safe across examples
_QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile("ci", derandomize=True, max_examples=12, deadline=None,
                          suppress_health_check=_QUIET)
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=_QUIET)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI")
                                     else "dev"))

# The suite runs on the device TINYGRAD_NV_DEVICE names, else the CPU (also on a GPU host, where
# the default device is cuda), and again on cuda where CuPy sees a GPU. The cuda run is marked
# `cuda`, not `gpu`: `-m gpu` selects the GPU-only checks (test_gpu.py, the kernels' cuda
# parametrisations), not every device test again.
def device_params(env_device: str | None, cuda_reason: str | None) -> list:
    """The `device` fixture's parameters for a TINYGRAD_NV_DEVICE value and the reason cuda is
    unavailable (None: it is available)."""
    first = canonicalize(env_device) if env_device else "cpu"
    params = []
    for name in dict.fromkeys([first, "cuda:0"]):
        marks = []
        if name.startswith("cuda"):
            marks = [pytest.mark.cuda, pytest.mark.skipif(
                cuda_reason is not None, reason=f"no CUDA device: {cuda_reason}")]
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "cuda: the device fixture's run on cuda:0")


@pytest.fixture(scope="session",
                params=device_params(os.environ.get(ENV_VAR), cuda_unavailable_reason()))
def device(request) -> str:
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    Tensor.manual_seed(0)
    np.random.seed(0)
