"""Optimizers as PyTorch's, where they could silently differ: every constructor option works
per parameter group (a group's value, not the constructor's, drives its parameters), and
non-floating parameters are refused with a clear error."""

import inspect

import numpy as np
import pytest

import tinygrad_nv.optim as optim
from tinygrad_nv import Tensor

OPTIMIZERS = [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad]

# A non-default value of each constructor option, with the options it needs to matter.
GROUP_VALUES = {
    "lr": {"lr": 0.05},
    "momentum": {"momentum": 0.9},
    "dampening": {"momentum": 0.9, "dampening": 0.4},
    "nesterov": {"momentum": 0.9, "nesterov": True},
    "weight_decay": {"weight_decay": 0.3},
    "maximize": {"maximize": True},
    "betas": {"betas": (0.5, 0.8)},
    "eps": {"eps": 0.5},
    "amsgrad": {"amsgrad": True},
    "alpha": {"alpha": 0.5},
    "centered": {"centered": True},
    "lr_decay": {"lr_decay": 0.5},
    "initial_accumulator_value": {"initial_accumulator_value": 1.0},
}


def _options(cls) -> list[str]:
    """The constructor's hyper-parameters: every argument but `params`."""
    names = list(inspect.signature(cls.__init__).parameters)
    return [n for n in names if n not in ("self", "params")]


def _grads(steps: int = 4) -> tuple[np.ndarray, list[np.ndarray]]:
    """A start and gradients that shrink tenfold a step (so that amsgrad's running maximum
    of v differs from v)."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((2, 3)), [rng.standard_normal((2, 3)) * 10.0**-k
                                         for k in range(steps)]


def _run(make_tensor, set_grad, value, build, grads):
    """Two parameters starting at `value`; `build(a, b)` gives the optimizers to step."""
    a, b = make_tensor(value), make_tensor(value)
    optimizers = build(a, b)
    for g in grads:
        set_grad(a, g)
        set_grad(b, g)
        for o in optimizers:
            o.step()
    return np.asarray(a.detach().numpy()), np.asarray(b.detach().numpy())


CASES = [(cls, name) for cls in OPTIMIZERS for name in _options(cls)]


@pytest.mark.parametrize("cls, option", CASES, ids=[f"{c.__name__}-{o}" for c, o in CASES])
def test_every_option_is_honoured_per_group(cls, option):
    """Two groups, the second with its own value of `option`, move their parameters exactly
    as two separate optimizers constructed with those options (and the option matters)."""
    assert option in GROUP_VALUES, f"give {cls.__name__}'s option {option!r} a test value"
    values = GROUP_VALUES[option]
    p0, grads = _grads()

    def ours(build):
        return _run(lambda v: Tensor(v.copy(), requires_grad=True),
                    lambda p, g: setattr(p, "grad", Tensor(g)), p0, build, grads)

    grouped = ours(lambda a, b: [cls([{"params": [a]}, {"params": [b], **values}], lr=0.01)])
    separate = ours(lambda a, b: [cls([a], lr=0.01), cls([b], **{"lr": 0.01, **values})])
    np.testing.assert_allclose(grouped[0], separate[0], rtol=1e-12)
    np.testing.assert_allclose(grouped[1], separate[1], rtol=1e-12)
    assert not np.allclose(grouped[0], grouped[1]), f"{option}={values} changed nothing"


@pytest.mark.parametrize("cls, option", CASES, ids=[f"{c.__name__}-{o}" for c, o in CASES])
def test_per_group_option_against_pytorch(cls, option):
    """The same grouped run against PyTorch's optimizer constructed once per group (PyTorch's
    own Adagrad takes initial_accumulator_value from the constructor for every group: a
    group's value is ignored there; here it is the group's, as for every other option)."""
    torch = pytest.importorskip("torch")
    values = GROUP_VALUES[option]
    p0, grads = _grads()
    torch_cls = getattr(torch.optim, cls.__name__)
    theirs = _run(lambda v: torch.tensor(v.copy(), requires_grad=True),
                  lambda p, g: setattr(p, "grad", torch.tensor(g)), p0,
                  lambda a, b: [torch_cls([a], lr=0.01),
                                torch_cls([b], **{"lr": 0.01, **values})], grads)
    ours = _run(lambda v: Tensor(v.copy(), requires_grad=True),
                lambda p, g: setattr(p, "grad", Tensor(g)), p0,
                lambda a, b: [cls([{"params": [a]}, {"params": [b], **values}], lr=0.01)],
                grads)
    for got, want in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "uint8"])
def test_non_floating_parameters_are_refused(cls, dtype):
    """An integer or bool tensor cannot be optimized (it could never get a gradient, and an
    update would truncate): refused up front, naming the optimizer, dtype and shape."""
    bad = Tensor(np.zeros((2, 3), dtype=dtype))
    good = Tensor([1.0], requires_grad=True)
    pattern = rf"{cls.__name__}: can only optimize floating point Tensors.*{dtype}.*\(2, 3\)"
    with pytest.raises(TypeError, match=pattern):
        cls([good, bad])
    with pytest.raises(TypeError, match=pattern):
        cls([{"params": [good]}, {"params": bad}])
    opt = cls([good])
    with pytest.raises(TypeError, match=pattern):
        opt.add_param_group({"params": [bad]})
    assert len(opt.param_groups) == 1
