"""MaxUnpool1d/2d and LPPool1d/2d against torch's layers (reprs, outputs and gradients, the
output_size of a MaxPool round trip), PyTorch's private bases, and the errors naming the
layer."""

import numpy as np
import pytest

from tinygrad_nv import Tensor, nn

REPRS = [("MaxUnpool2d", (2,), {}), ("MaxUnpool2d", ((2, 3),), {"stride": 1, "padding": 1}),
         ("MaxUnpool1d", (3,), {"stride": 2, "padding": 1}), ("LPPool2d", (2, 3), {}),
         ("LPPool1d", (1.5, 2), {"stride": 1, "ceil_mode": True}),
         ("LPPool2d", (2, (2, 3)), {"stride": (1, 2)})]


@pytest.mark.parametrize("name,args,kwargs", REPRS, ids=[r[0] for r in REPRS])
def test_reprs_as_torch(name, args, kwargs):
    torch = pytest.importorskip("torch")
    assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args,
                                                                                    **kwargs))
    assert getattr(nn, name)(*args, **kwargs).state_dict() == {}


@pytest.mark.parametrize("dims", [1, 2])
def test_max_unpool_undoes_max_pool_as_torch(dims, device):
    torch = pytest.importorskip("torch")
    shape = (2, 3, 5, 7)[-dims - 2:]
    a = np.random.default_rng(0).normal(size=shape)
    pool, unpool = getattr(nn, f"MaxPool{dims}d"), getattr(nn, f"MaxUnpool{dims}d")
    tpool, tunpool = getattr(torch.nn, f"MaxPool{dims}d"), getattr(torch.nn, f"MaxUnpool{dims}d")
    x = Tensor(a, device=device, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    y, index = pool(2, return_indices=True)(x)
    ty, tindex = tpool(2, return_indices=True)(tx)
    out = unpool(2)(y, index, output_size=x.shape)
    tout = tunpool(2)(ty, tindex, output_size=tx.shape)
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    assert out.shape == x.shape
    g = np.random.default_rng(1).normal(size=shape)
    (out * Tensor(g, device=device)).sum().backward(), (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name,args,kwargs", REPRS[3:], ids=[r[0] for r in REPRS[3:]])
def test_lp_pool_layers_as_torch(name, args, kwargs, device):
    torch = pytest.importorskip("torch")
    dims = int(name[-2])
    a = np.random.default_rng(2).uniform(0.1, 2, size=(2, 3, 6, 7)[-dims - 2:])
    x, tx = Tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = getattr(nn, name)(*args, **kwargs)(x), getattr(torch.nn, name)(*args, **kwargs)(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    y.sum().backward(), ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)


def test_private_bases():
    from tinygrad_nv.nn.modules.pooling import _LPPoolNd, _MaxUnpoolNd
    assert issubclass(nn.MaxUnpool1d, _MaxUnpoolNd) and issubclass(nn.MaxUnpool2d, _MaxUnpoolNd)
    assert issubclass(nn.LPPool1d, _LPPoolNd) and issubclass(nn.LPPool2d, _LPPoolNd)


@pytest.mark.parametrize("call,error,match", [
    (lambda: nn.MaxUnpool2d((2, 2, 2)), ValueError,
     r"MaxUnpool2d: kernel_size must be an int >= 1 or 2 of them, got \(2, 2, 2\)"),
    (lambda: nn.MaxUnpool1d(2, padding=-1), ValueError, "MaxUnpool1d: padding must be an int"),
    (lambda: nn.MaxUnpool2d(2)(Tensor.ones(2, 2), Tensor([[0, 1], [2, 3]])), ValueError,
     r"max_unpool2d: expected a 3-D or 4-D input"),
    (lambda: nn.MaxUnpool2d(2)(np.ones((1, 2, 2))), TypeError,
     "MaxUnpool2d: argument 'input' must be a Tensor"),
    (lambda: nn.LPPool2d(2, 2)(Tensor.ones(2, 2)), ValueError,
     r"lp_pool2d: expected a 3-D or 4-D input"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
