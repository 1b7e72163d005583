"""Shared fixtures: the device every test runs on, and the hypothesis profiles."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from tinygrad_nv import Tensor
from tinygrad_nv.backend import cuda_unavailable_reason, default_device

# the `device` fixture is session-wide and the seed fixture only reseeds: safe across examples
_QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile("ci", derandomize=True, max_examples=12, deadline=None,
                          suppress_health_check=_QUIET)
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=_QUIET)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI")
                                     else "dev"))

# The suite runs on the default device (cpu, or emu / cuda through TINYGRAD_NV_DEVICE) and
# again on cuda where CuPy sees a GPU.
_DEVICES = list(dict.fromkeys([default_device(), "cuda:0"]))


def _device_param(name: str):
    if name.startswith("cuda"):
        reason = cuda_unavailable_reason()
        return pytest.param(name, marks=[pytest.mark.gpu, pytest.mark.skipif(
            reason is not None, reason=f"no CUDA device: {reason}")])
    return name


@pytest.fixture(scope="session", params=[_device_param(d) for d in _DEVICES])
def device(request) -> str:
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    Tensor.manual_seed(0)
    np.random.seed(0)
