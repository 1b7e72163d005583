"""LazyLinear, LazyConv1d, LazyConv2d and UninitializedParameter as PyTorch's: reprs before and
after the first call, the inferred sizes and the class they become, state_dict and
load_state_dict (uninitialized and loaded states), optimizers built before the first call,
dtype conversion before it, values and gradients with torch's weights, errors."""

import copy

import numpy as np
import pytest

from tinygrad_nv import Tensor, dtypes, nn, optim

CASES = [("LazyLinear", (3,), {}, (2, 5)), ("LazyLinear", (4,), {"bias": False}, (2, 3, 6)),
         ("LazyConv1d", (4, 3), {"padding": 1}, (2, 6, 7)),
         ("LazyConv2d", (4, 3), {"stride": 2, "groups": 2}, (1, 6, 7, 7)),
         ("LazyConv2d", (2, (2, 3)), {"bias": False, "dilation": 2}, (3, 8, 9))]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize("name,args,kwargs,shape", CASES, ids=IDS)
def test_reprs_state_dict_and_the_class_it_becomes_as_torch(name, args, kwargs, shape):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert all(repr(v) == "<UninitializedParameter>" for v in ours.state_dict().values())
    ours(Tensor.randn(*shape)), theirs(torch.randn(*shape))
    assert type(ours).__name__ == type(theirs).__name__ and repr(ours) == repr(theirs)
    assert type(ours) is getattr(nn, type(theirs).__name__)
    for key, value in ours.state_dict().items():
        assert value.shape == tuple(theirs.state_dict()[key].shape), key
        assert type(ours.get_parameter(key)) is nn.Parameter


@pytest.mark.parametrize("name,args,kwargs,shape", CASES, ids=IDS)
def test_values_and_gradients_with_torchs_weights(name, args, kwargs, shape, device):
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    a = np.random.default_rng(0).normal(size=shape)
    tx = torch.tensor(a, requires_grad=True)
    ty = theirs(tx)
    ours = getattr(nn, name)(*args, **kwargs, device=device, dtype=dtypes.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = Tensor(a, device=device, requires_grad=True)
    y = ours(x)  # the loaded values stay: the first call initialises nothing more
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    y.sum().backward(), ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    for key, p in theirs.named_parameters():
        np.testing.assert_allclose(ours.get_parameter(key).grad.numpy(), p.grad.numpy(),
                                   rtol=1e-12, atol=1e-12)


def test_default_init_bounds_from_the_inferred_size():
    layer = nn.LazyLinear(300)
    layer(Tensor.ones(1, 16))
    bound = 1 / 16 ** 0.5
    for p in (layer.weight, layer.bias):
        values = p.numpy()
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=0.1)], ids=["SGD", "Adam"])
def test_an_optimizer_built_before_the_first_call_trains_it(make):
    early, late = nn.LazyLinear(2), nn.Linear(3, 2)
    opt_early = make(list(early.parameters()))
    x = Tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    early(x)
    late.load_state_dict(early.state_dict())
    opt_late = make(list(late.parameters()))
    for model, opt in ((early, opt_early), (late, opt_late)):
        for _ in range(3):
            opt.zero_grad()
            (model(x) ** 2).sum().backward()
            opt.step()
    np.testing.assert_allclose(early.weight.numpy(), late.weight.numpy(), rtol=1e-6)


def test_uninitialized_states_load_as_torch_documents():
    fresh = nn.LazyLinear(3).state_dict()
    lazy = nn.LazyLinear(3)
    lazy.load_state_dict(fresh)  # uninitialized into uninitialized: stays lazy
    assert lazy.has_uninitialized_params()
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        nn.Linear(2, 3).load_state_dict(fresh)
    trained = nn.Linear(4, 3)
    lazy.load_state_dict(trained.state_dict())
    assert not lazy.has_uninitialized_params() and lazy.weight.shape == (3, 4)
    np.testing.assert_array_equal(lazy.weight.numpy(), trained.weight.numpy())


def test_dtype_and_copies_before_the_first_call():
    layer = nn.LazyConv2d(2, 1).double()
    clone = copy.deepcopy(layer)
    assert type(clone) is nn.LazyConv2d and clone.has_uninitialized_params()
    assert clone(Tensor.ones(1, 3, 2, 2, dtype=dtypes.float64)).dtype == dtypes.float64
    assert clone.weight.shape == (2, 3, 1, 1) and layer.has_uninitialized_params()


def test_uninitialized_parameter():
    p = nn.UninitializedParameter(dtype=dtypes.float64)
    assert repr(p) == "<UninitializedParameter>" and p.requires_grad
    p.materialize((2, 3))
    assert type(p) is nn.Parameter and p.shape == (2, 3) and p.dtype == dtypes.float64


@pytest.mark.parametrize("call,error,match", [
    (lambda: nn.LazyLinear(0), ValueError, "LazyLinear: out_features must be a positive int"),
    (lambda: nn.LazyConv2d(3, 2, groups=2), ValueError, "LazyConv2d: groups=2 must divide"),
    (lambda: nn.LazyConv2d(4, 2)(Tensor.ones(2, 3)), ValueError,
     r"LazyConv2d: expected a 3-D \(unbatched\) or 4-D \(batched\) input, got shape \(2, 3\)"),
    (lambda: nn.LazyConv1d(4, 2, groups=4)(Tensor.ones(1, 6, 5)), ValueError,
     r"LazyConv1d: groups=4 must divide the input's 6 channels"),
    (lambda: nn.LazyLinear(2)(np.ones((2, 3))), TypeError,
     "LazyLinear: argument 'x' must be a Tensor"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
