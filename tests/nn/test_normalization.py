"""RMSNorm, InstanceNorm1d/2d/3d and LocalResponseNorm: PyTorch's parameters, buffers,
running statistics, unbatched inputs and errors; PyTorch's state_dict and outputs where
installed."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
from tinygrad_nv import Tensor
from tinygrad_nv.dtype import dtypes

from .torch_reference import compare_with_torch, load_from_torch


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_rms_norm_layer(device):
    norm = nn.RMSNorm((2, 3), eps=1e-6, device=device)
    assert norm.weight.shape == (2, 3) and (norm.weight.numpy() == 1).all()
    x = rand(4, 2, 3).astype(np.float32)
    expected = x / np.sqrt((x * x).mean((1, 2), keepdims=True) + 1e-6)
    np.testing.assert_allclose(norm(Tensor(x, device=device)).numpy(), expected, rtol=1e-5)
    assert list(nn.RMSNorm(3, elementwise_affine=False).parameters()) == []
    assert repr(norm) == "RMSNorm((2, 3), eps=1e-06, elementwise_affine=True)"


def test_instance_norm_buffers_and_running_statistics(device):
    norm = nn.InstanceNorm1d(3, affine=True, track_running_stats=True, momentum=0.5,
                             device=device)
    assert sorted(norm.state_dict()) == ["bias", "num_batches_tracked", "running_mean",
                                         "running_var", "weight"]
    x = rand(2, 3, 5)
    out = norm(Tensor(x, device=device))
    np.testing.assert_allclose(out.numpy().mean(2), 0.0, atol=1e-7)
    np.testing.assert_allclose(norm.running_mean.numpy(), 0.5 * x.mean(2).mean(0), rtol=1e-6)
    norm.eval()  # now the running statistics normalise
    mean, var = norm.running_mean.numpy(), norm.running_var.numpy()
    expected = (x - mean[:, None]) / np.sqrt(var[:, None] + 1e-5)
    np.testing.assert_allclose(norm(Tensor(x, device=device)).numpy(), expected, rtol=1e-5)
    assert sorted(nn.InstanceNorm2d(3).state_dict()) == []  # PyTorch's defaults


def test_instance_norm_unbatched_matches_batched():
    x = rand(3, 4, 4)
    norm = nn.InstanceNorm2d(3, affine=True)
    np.testing.assert_allclose(norm(Tensor(x)).numpy(), norm(Tensor(x[None])).numpy()[0])
    assert nn.InstanceNorm3d(2)(Tensor(rand(2, 2, 3, 2, 2))).shape == (2, 2, 3, 2, 2)


def test_instance_norm_bad_input():
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected a 3-D \(unbatched\) or 4-D"):
        nn.InstanceNorm2d(3)(Tensor(rand(2, 3, 4)[0]))
    with pytest.raises(ValueError, match="InstanceNorm1d: expected the input's size at dim=1 "
                                         "to match num_features"):
        nn.InstanceNorm1d(4, affine=True)(Tensor(rand(2, 3, 5)))
    with pytest.warns(UserWarning, match="affine=False"):
        nn.InstanceNorm1d(4)(Tensor(rand(2, 3, 5)))
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        nn.InstanceNorm1d(0)


def test_local_response_norm_layer():
    x = rand(1, 4, 2, 2)
    layer = nn.LocalResponseNorm(2, alpha=1.0, beta=1.0, k=1.0)
    before = np.concatenate([np.zeros_like(x[:, :1]), x[:, :3]], axis=1)
    div = 1 + (before ** 2 + x ** 2) / 2  # the window: the channel and the one before it
    np.testing.assert_allclose(layer(Tensor(x)).numpy(), x / div, rtol=1e-12)
    assert repr(layer) == "LocalResponseNorm(2, alpha=1.0, beta=1.0, k=1.0)"


@pytest.mark.parametrize("make,shape", [
    (lambda m, **f: m.RMSNorm([3, 4], **f), (2, 3, 4)),
    (lambda m, **f: m.RMSNorm(4, eps=1e-3, **f), (2, 3, 4)),
    (lambda m, **f: m.InstanceNorm1d(3, affine=True, track_running_stats=True, **f), (2, 3, 4)),
    (lambda m, **f: m.InstanceNorm1d(3, **f), (3, 4)),
    (lambda m, **f: m.InstanceNorm2d(2, affine=True, **f), (2, 2, 3, 3)),
    (lambda m, **f: m.LocalResponseNorm(3, alpha=0.3), (2, 4, 3)),
    (lambda m, **f: m.LayerNorm(4, bias=False, **f), (2, 3, 4)),  # LayerNorm's new bias=
])
@pytest.mark.parametrize("training", [True, False])
def test_against_torch(make, shape, training):
    torch = pytest.importorskip("torch")
    theirs = make(torch.nn, dtype=torch.float64).train(training)
    ours = make(nn, dtype=dtypes.float64).train(training)
    load_from_torch(ours, theirs)
    for seed in range(2):  # twice: the running statistics of the first call count
        compare_with_torch(ours, theirs, rand(*shape, seed=seed))
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-12)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("make,shape", [
    (lambda m: m.BatchNorm2d(3), (0, 3, 4, 4)), (lambda m: m.BatchNorm1d(3), (0, 3)),
    (lambda m: m.GroupNorm(2, 4), (0, 4, 3)), (lambda m: m.InstanceNorm2d(3), (0, 3, 4, 4)),
    (lambda m: m.LayerNorm(4), (0, 4))], ids=["bn2d", "bn1d", "group", "instance", "layer"])
def test_empty_batch_matches_torch(make, shape, training, device):
    """N = 0: an empty output, zero parameter gradients and, for BatchNorm in training, the
    running statistics left as they were with num_batches_tracked counted (as PyTorch; it
    raised for BatchNorm in training, GroupNorm and InstanceNorm)."""
    torch = pytest.importorskip("torch")
    theirs, ours = make(torch.nn).double().train(training), make(nn).double().train(training)
    load_from_torch(ours, theirs)
    ours = ours.to(device)
    x, ref = Tensor(np.zeros(shape), device=device, requires_grad=True), \
        torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    out, expected = ours(x), theirs(ref)
    assert out.shape == tuple(expected.shape)
    out.sum().backward()
    expected.sum().backward()
    assert x.grad.shape == shape
    for name, p in ours.named_parameters():
        np.testing.assert_array_equal(p.grad.numpy(), dict(theirs.named_parameters())[name]
                                      .grad.numpy())
    for name, b in ours.named_buffers():
        np.testing.assert_array_equal(b.numpy(), dict(theirs.named_buffers())[name].numpy())
