"""Layer modules of issue 9: every activation module against its NumPy formula, convolution,
pooling and resizing modules (PyTorch's weight shapes, keys and initialisation), GroupNorm,
Unflatten, Identity, Embedding(padding_idx), PReLU."""

import math

import numpy as np
import pytest

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor
from tinygrad_nv.testing import gradcheck


def rand(*shape, seed=0, device=None):
    return Tensor(np.random.default_rng(seed).standard_normal(shape) * 2, device=device)


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def softmax(a, axis=-1):
    e = np.exp(a - a.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
ACTIVATIONS = [
    (nn.ReLU(), lambda a: np.maximum(a, 0)),
    (nn.ReLU6(), lambda a: np.clip(a, 0, 6)),
    (nn.LeakyReLU(0.2), lambda a: np.where(a > 0, a, 0.2 * a)),
    (nn.Hardtanh(-0.5, 2.0), lambda a: np.clip(a, -0.5, 2.0)),
    (nn.Sigmoid(), sigmoid),
    (nn.Hardsigmoid(), lambda a: np.clip(a + 3, 0, 6) / 6),
    (nn.LogSigmoid(), lambda a: -np.logaddexp(0, -a)),
    (nn.Tanh(), np.tanh),
    (nn.GELU(), lambda a: 0.5 * a * (1 + np.vectorize(math.erf)(a / math.sqrt(2)))),
    (nn.GELU("tanh"), lambda a: 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                        * (a + 0.044715 * a ** 3)))),
    (nn.SiLU(), lambda a: a * sigmoid(a)),
    (nn.Hardswish(), lambda a: a * np.clip(a + 3, 0, 6) / 6),
    (nn.Mish(), lambda a: a * np.tanh(np.logaddexp(0, a))),
    (nn.Softplus(beta=2.0), lambda a: np.logaddexp(0, 2 * a) / 2),
    (nn.Softplus(beta=1.0, threshold=1.0), lambda a: np.where(a > 1, a, np.logaddexp(0, a))),
    (nn.Softsign(), lambda a: a / (1 + np.abs(a))),
    (nn.ELU(0.5), lambda a: np.where(a > 0, a, 0.5 * np.expm1(a))),
    (nn.SELU(), lambda a: SELU_SCALE * np.where(a > 0, a, SELU_ALPHA * np.expm1(a))),
    (nn.CELU(0.7), lambda a: np.maximum(a, 0) + np.minimum(0, 0.7 * np.expm1(a / 0.7))),
    (nn.GLU(), lambda a: a[..., :2] * sigmoid(a[..., 2:])),
    (nn.GLU(dim=0), lambda a: a[:1] * sigmoid(a[1:])),
    (nn.Softmax(dim=0), lambda a: softmax(a, 0)),
    (nn.Softmin(), lambda a: softmax(-a)),
    (nn.LogSoftmax(), lambda a: np.log(softmax(a))),
]


@pytest.mark.parametrize("module,reference", ACTIVATIONS,
                         ids=[f"{type(m).__name__}{i}" for i, (m, _) in enumerate(ACTIVATIONS)])
def test_activation_modules(module, reference, device):
    x = rand(2, 4, seed=1, device=device)
    np.testing.assert_allclose(module(x).numpy(), reference(x.numpy()), rtol=1e-6, atol=1e-12)
    gradcheck(module, [x.detach() + 0.01])  # off the kinks of relu-like functions at 0


def test_activation_functions_accept_pytorch_arguments(device):
    x = rand(3, 2, seed=1, device=device)
    np.testing.assert_allclose(F.relu(x, inplace=True).numpy(), np.maximum(x.numpy(), 0))
    np.testing.assert_allclose(F.leaky_relu(x, 0.3, False).numpy(),
                               np.where(x.numpy() > 0, x.numpy(), 0.3 * x.numpy()))
    np.testing.assert_allclose(nn.ReLU(inplace=True)(x).numpy(), np.maximum(x.numpy(), 0))


def test_prelu_one_or_per_channel_slope(device):
    x = rand(2, 3, 4, seed=1, device=device)
    single = nn.PReLU().to(device)
    np.testing.assert_allclose(single(x).numpy(), np.where(x.numpy() > 0, x.numpy(),
                                                           0.25 * x.numpy()), rtol=1e-6)
    per_channel = nn.PReLU(3, init=0.1).double().to(device)
    assert per_channel.state_dict()["weight"].shape == (3,)
    gradcheck(lambda a, w: (a > 0).where(a, w.reshape(1, 3, 1) * a), [x, per_channel.weight])
    out = per_channel(x)
    out.sum().backward()
    negative = np.minimum(x.numpy(), 0)
    np.testing.assert_allclose(per_channel.weight.grad.numpy(), negative.sum(axis=(0, 2)))
    with pytest.raises(ValueError, match="3 parameters need an input with as many channels"):
        per_channel(rand(2, 4, 4, device=device))


# ---------------------------------------------------------------------- convolutions
@pytest.mark.parametrize("module,weight_shape,fan_in", [
    (nn.Conv1d(4, 6, 3, groups=2), (6, 2, 3), 6),
    (nn.Conv2d(4, 6, (3, 2)), (6, 4, 3, 2), 24),
    (nn.ConvTranspose2d(4, 6, 3, groups=2), (4, 3, 3, 3), 27),
])
def test_conv_modules_weights_as_pytorch(module, weight_shape, fan_in):
    state = module.state_dict()
    assert {k: v.shape for k, v in state.items()} == {"weight": weight_shape, "bias": (6,)}
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) and the bias: both this bound
    for value in state.values():
        assert np.abs(value.numpy()).max() <= bound


def test_conv_modules_forward_their_function(device):
    x1, x2 = rand(2, 4, 9, seed=1, device=device), rand(2, 4, 5, 5, seed=2, device=device)
    conv1 = nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, bias=False).double().to(device)
    np.testing.assert_allclose(conv1(x1).numpy(),
                               F.conv1d(x1, conv1.weight, None, 2, 1, 2).numpy())
    up = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1).double().to(device)
    y = up(x2)
    assert y.shape == (2, 2, 10, 10)  # doubles the side
    np.testing.assert_allclose(y.numpy(), F.conv_transpose2d(x2, up.weight, up.bias, 2, 1,
                                                             1).numpy())
    gradcheck(lambda a: up(a), [x2[:1, :, :3, :2]])


@pytest.mark.parametrize("mode,numpy_mode", [("reflect", "reflect"), ("replicate", "edge"),
                                             ("circular", "wrap")])
def test_conv_padding_modes(mode, numpy_mode, device):
    x = rand(2, 3, 6, 5, seed=1, device=device)
    conv = nn.Conv2d(3, 4, 3, padding=(1, 2), padding_mode=mode).double().to(device)
    padded = Tensor(np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (2, 2)), mode=numpy_mode),
                    device=device)
    np.testing.assert_allclose(conv(x).numpy(), F.conv2d(padded, conv.weight, conv.bias).numpy(),
                               rtol=1e-12)
    conv1 = nn.Conv1d(3, 4, 3, padding=2, padding_mode=mode).double().to(device)
    padded1 = Tensor(np.pad(x.numpy()[:, :, 0], ((0, 0), (0, 0), (2, 2)), mode=numpy_mode),
                     device=device)
    np.testing.assert_allclose(conv1(x[:, :, 0]).numpy(),
                               F.conv1d(padded1, conv1.weight, conv1.bias).numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.ConvTranspose2d(3, 4, 3, padding_mode=mode)


def test_pooling_and_resizing_modules(device):
    x = rand(1, 2, 5, 6, seed=1, device=device)
    out, indices = nn.MaxPool2d(2, ceil_mode=True, return_indices=True)(x)
    assert out.shape == (1, 2, 3, 3) and indices.shape == (1, 2, 3, 3)
    np.testing.assert_allclose(nn.AvgPool2d(3, 2, 1, ceil_mode=True)(x).numpy(),
                               F.avg_pool2d(x, 3, 2, 1, ceil_mode=True).numpy())
    np.testing.assert_allclose(nn.AdaptiveAvgPool2d((1, 1))(x).numpy(),
                               x.numpy().mean(axis=(2, 3), keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(nn.AdaptiveAvgPool2d((None, 2))(x).numpy(),
                               F.adaptive_avg_pool2d(x, (5, 2)).numpy())
    assert nn.Upsample(scale_factor=2, mode="bilinear")(x).shape == (1, 2, 10, 12)
    np.testing.assert_array_equal(nn.Upsample(size=(10, 12))(x).numpy(),
                                  x.numpy().repeat(2, axis=2).repeat(2, axis=3))


# ---------------------------------------------------------------------- other layers
def test_group_norm_module(device):
    norm = nn.GroupNorm(2, 4).double().to(device)
    assert {k: v.shape for k, v in norm.state_dict().items()} == {"weight": (4,), "bias": (4,)}
    x = rand(3, 4, 5, seed=1, device=device)
    grouped = x.numpy().reshape(3, 2, -1)
    expected = (grouped - grouped.mean(-1, keepdims=True)) / np.sqrt(
        grouped.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(norm(x).numpy(), expected.reshape(3, 4, 5), rtol=1e-10)
    assert nn.GroupNorm(2, 4, affine=False).state_dict() == {}
    with pytest.raises(ValueError, match=r"expected an input \(N, 4, ...\)"):
        norm(rand(3, 3, 5, device=device))
    with pytest.raises(ValueError, match="num_groups=3 must divide num_channels=4"):
        nn.GroupNorm(3, 4)


def test_unflatten_and_identity(device):
    x = rand(2, 12, 3, device=device)
    assert nn.Unflatten(1, (3, 4))(x).shape == (2, 3, 4, 3)
    assert nn.Unflatten(-1, (1, 3))(x).shape == (2, 12, 1, 3)
    with pytest.raises(ValueError):
        nn.Unflatten(1, (5, 5))(x)
    with pytest.raises(IndexError, match="dim 3 is out of range"):
        nn.Unflatten(3, (1,))(x)
    assert nn.Identity(54, unused="argument")(x) is x


def test_embedding_padding_idx_starts_at_zero_and_stays_there(device):
    emb = nn.Embedding(5, 3, padding_idx=-1).to(device)
    assert emb.padding_idx == 4
    np.testing.assert_array_equal(emb.weight.numpy()[4], 0.0)
    emb(Tensor(np.array([[4, 1], [4, 0]]), device=device)).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy()[4], 0.0)
    np.testing.assert_array_equal(emb.weight.grad.numpy()[1], 1.0)
    with pytest.raises(ValueError, match="padding_idx must be within num_embeddings=5"):
        nn.Embedding(5, 3, padding_idx=5)


def test_embedding_from_pretrained(device):
    table = np.arange(12.0).reshape(4, 3)
    frozen = nn.Embedding.from_pretrained(Tensor(table)).to(device)
    assert list(frozen.state_dict()) == ["weight"] and not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(Tensor(np.array([2, 0]), device=device)).numpy(),
                                  table[[2, 0]])
    trained = nn.Embedding.from_pretrained(Tensor(table), freeze=False, padding_idx=0)
    assert trained.weight.requires_grad and trained.padding_idx == 0
    np.testing.assert_array_equal(trained.weight.numpy(), table)  # the row is not zeroed

