"""The NAdam, RAdam, Adamax, Adadelta, ASGD and amsgrad kernels of kernels/optim.cu against their
NumPy reference (tinygrad_nv/backend/optim_kernels.py): a fused group update (`<opt>_multi`) and
the one-tensor kernels (`<opt>_step`, taken by non-contiguous tensors), float16 / float32 /
float64, launched through CudaKernels on `emu` and, where a GPU is present, on `cuda`; one
launch per group and no host synchronisation in an optimizer step."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_nv.optim as optim
from tests.backend.test_kernels import SIZES, UPDATE_TOL, Device, randn
from tinygrad_nv import Tensor
from tinygrad_nv.backend import cuda_unavailable_reason, kernels
from tinygrad_nv.backend.numpy_kernels import NumpyKernels

REF = NumpyKernels(np)
COEF = {"nadam": kernels.NadamCoef, "radam": kernels.RadamCoef, "adamax": kernels.AdamaxCoef,
        "adadelta": kernels.AdadeltaCoef, "asgd": kernels.AsgdCoef,
        "amsgrad": kernels.AmsgradCoef}
# (kernel, number of state buffers, hyper-parameters per step number)
VARIANTS = [
    ("nadam", 2, lambda t: dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.05,
                                mu=0.9 - 0.01 * t, mu_next=0.9 - 0.01 * (t + 1),
                                mu_product=0.9**t, step=t, decoupled=False)),
    ("nadam", 2, lambda t: dict(lr=0.02, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1,
                                mu=0.7, mu_next=0.75, mu_product=0.7**t, step=t,
                                decoupled=True)),
    ("radam", 2, lambda t: dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.05,
                                step=t, decoupled=False)),  # not rectified yet
    ("radam", 2, lambda t: dict(lr=0.01, beta1=0.5, beta2=0.6, eps=1e-6, weight_decay=0.1,
                                step=t + 20, decoupled=True)),  # rectified
    ("adamax", 2, lambda t: dict(lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.0,
                                 step=t)),
    ("adamax", 2, lambda t: dict(lr=0.05, beta1=0.7, beta2=0.9, eps=1e-4, weight_decay=0.1,
                                 step=t)),
    ("adadelta", 2, lambda t: dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0)),
    ("adadelta", 2, lambda t: dict(lr=0.5, rho=0.7, eps=1e-4, weight_decay=0.1)),
    ("asgd", 1, lambda t: dict(eta=0.01, mu=1.0, lambd=1e-4, weight_decay=0.0)),
    ("asgd", 1, lambda t: dict(eta=0.05 / t, mu=1.0 / t, lambd=0.1, weight_decay=0.1)),
    ("amsgrad", 3, lambda t: dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.05,
                                  step=t, decoupled=False)),
    ("amsgrad", 3, lambda t: dict(lr=0.02, beta1=0.8, beta2=0.9, eps=1e-6, weight_decay=0.1,
                                  step=t, decoupled=True)),
]
IDS = [f"{opt}{i}" for i, (opt, _, _) in enumerate(VARIANTS)]


@pytest.fixture(params=[pytest.param("emu", marks=pytest.mark.emu),
                        pytest.param("cuda", marks=pytest.mark.gpu)])
def dev(request) -> Device:
    if request.param == "cuda" and (reason := cuda_unavailable_reason()) is not None:
        pytest.skip(reason)
    return Device(request.param)


def _states(dtype, n_states, sizes, seed=0):
    """Non-negative state buffers (second moments, averages of squares) for each tensor."""
    return [[(np.abs(randn(n, seed=seed + 10 * r + k)) * 0.1).astype(dtype)
             for k, n in enumerate(sizes)] for r in range(n_states)]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("opt, n_states, args", VARIANTS, ids=IDS)
def test_fused_group_update_matches_reference(dev, opt, n_states, args, dtype):
    """Three steps over a group with an empty tensor and sizes that are not multiples of the
    block: the kernels give the NumPy reference's values (to rounding: they fuse multiply-adds;
    float16 storage with float32 math)."""
    params = [randn(n, dtype=dtype, seed=k) for k, n in enumerate(SIZES)]
    states = _states(dtype, n_states, SIZES)
    d_params = [dev.put(p) for p in params]
    d_states = [[dev.put(a) for a in state] for state in states]
    for step in (1, 2, 3):
        grads = [randn(n, dtype=dtype, seed=100 * step + k) for k, n in enumerate(SIZES)]
        coef = COEF[opt].of(**args(step))
        getattr(REF, f"{opt}_multi")(params, grads, *states, coef)
        getattr(dev.kernels, f"{opt}_multi")(d_params, [dev.put(g) for g in grads], *d_states,
                                             coef)
    for actual, expected in zip([*d_params, *(a for s in d_states for a in s)],
                                [*params, *(a for s in states for a in s)], strict=True):
        actual = dev.get(actual)
        assert actual.dtype == expected.dtype
        np.testing.assert_allclose(actual, expected, **UPDATE_TOL[dtype])
    assert not np.allclose(params[0], randn(SIZES[0], dtype=dtype, seed=0))


@pytest.mark.parametrize("opt, n_states, args", VARIANTS, ids=IDS)
def test_non_contiguous_tensors_take_the_one_tensor_kernel(dev, opt, n_states, args):
    """A strided parameter (and state) is updated through `<opt>_step` on a contiguous copy
    and written back through the view; it equals the fused update of contiguous arrays."""
    whole = randn(8, 6, dtype=np.float32)
    states = _states(np.float32, n_states, [48], seed=5)
    grad = randn(8, 3, dtype=np.float32, seed=1)
    d_whole = dev.put(whole)
    d_states = [dev.put(s[0].reshape(8, 6)) for s in states]
    contiguous = [whole[:, ::2].copy()], [[s[0].reshape(8, 6)[:, ::2].copy()] for s in states]
    coef = COEF[opt].of(**args(2))
    getattr(dev.kernels, f"{opt}_multi")([d_whole[:, ::2]], [dev.put(grad)],
                                         *([s[:, ::2]] for s in d_states), coef)
    getattr(REF, f"{opt}_multi")(contiguous[0], [grad], *contiguous[1], coef)
    got = dev.get(d_whole)
    np.testing.assert_allclose(got[:, ::2], contiguous[0][0], **UPDATE_TOL[np.float32])
    np.testing.assert_array_equal(got[:, 1::2], whole[:, 1::2])  # the other columns untouched
    for d_state, expected in zip(d_states, contiguous[1], strict=True):
        np.testing.assert_allclose(dev.get(d_state)[:, ::2], expected[0],
                                   **UPDATE_TOL[np.float32])


def test_adamax_propagates_nan(dev):
    """exp_inf = max(beta2 exp_inf, |g| + eps) keeps a NaN on either side, as torch.maximum."""
    param, m, u = np.ones(3, np.float32), np.zeros(3, np.float32), np.ones(3, np.float32)
    u[0] = np.nan
    grad = np.array([1.0, np.nan, 1.0], np.float32)
    d = [dev.put(a) for a in (param, m, u)]
    dev.kernels.adamax_multi([d[0]], [dev.put(grad)], [d[1]], [d[2]],
                             kernels.AdamaxCoef.of(0.1, 0.9, 0.99, 1e-8, 0.0, 1))
    np.testing.assert_array_equal(np.isnan(dev.get(d[2])), [True, True, False])
    np.testing.assert_array_equal(np.isnan(dev.get(d[0])), [True, True, False])


OPTIMIZERS = [(optim.NAdam, "nadam"), (optim.RAdam, "radam"), (optim.Adamax, "adamax"),
              (optim.Adadelta, "adadelta"), (optim.ASGD, "asgd"),
              (lambda ps, **kw: optim.Adam(ps, amsgrad=True, **kw), "amsgrad"),
              (optim.Adagrad, "rmsprop")]  # Adagrad: RMSprop's kernel


@pytest.mark.parametrize("cls, kernel", OPTIMIZERS,
                         ids=["nadam", "radam", "adamax", "adadelta", "asgd", "amsgrad",
                              "adagrad"])
def test_optimizer_step_is_one_launch_per_group_without_sync(cls, kernel):
    """On a second device (emu:1): one launch, run with that device current, no sync."""
    from tinygrad_nv.testing.instrumented import instrumented

    with instrumented("emu:1") as probe:
        params = [Tensor(np.ones(n, np.float32), device="emu:1", requires_grad=True)
                  for n in (5, 7, 300)]
        opt = cls(params, lr=0.1, maximize=True)
        for _ in range(2):
            for p in params:
                p.grad = Tensor(np.full(p.shape, -0.5, np.float32), device="emu:1")
            probe.reset()
            opt.step()
            assert [c for c in probe.calls if c.startswith(kernel)] == [f"{kernel}_multi_f32"]
            assert probe.syncs == [] and probe.misplaced == []
    assert (params[2].numpy() < 1.0).all()


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, maximize=True),
                                  lambda ps: optim.Adam(ps, amsgrad=True, maximize=True),
                                  lambda ps: optim.Adagrad(ps, weight_decay=0.1),
                                  lambda ps: optim.RMSprop(ps, centered=True, maximize=True)],
                         ids=["sgd", "adam_amsgrad", "adagrad", "rmsprop"])
def test_array_paths_of_every_optimizer_run_on_the_parameters_device(make):
    """The array work around the kernels (maximize's negation, Adagrad and amsgrad's updates)
    runs with the parameters' device current, here emu:1."""
    from tinygrad_nv.testing.instrumented import instrumented

    with instrumented("emu:1") as probe:
        params = [Tensor(np.ones(n, np.float32), device="emu:1", requires_grad=True)
                  for n in (3, 4)]
        opt = make(params)
        for p in params:
            p.grad = Tensor(np.full(p.shape, 0.5, np.float32), device="emu:1")
        opt.step()
    assert probe.misplaced == []
    assert not np.array_equal(params[0].numpy(), np.ones(3, np.float32))


def test_lbfgs_runs_on_the_parameters_device():
    from tinygrad_nv.testing.instrumented import instrumented

    with instrumented("emu:1") as probe:
        x = Tensor(np.array([3.0, -2.0]), device="emu:1", requires_grad=True)
        opt = optim.LBFGS([x], line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = ((x - Tensor([1.0, 2.0], device="emu:1")) ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
    assert probe.misplaced == []
    np.testing.assert_allclose(x.numpy(), [1.0, 2.0], atol=1e-6)
