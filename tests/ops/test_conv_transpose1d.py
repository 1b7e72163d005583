"""conv_transpose1d against a NumPy scatter formula and torch (values and gradients), with
gradcheck/gradgradcheck on hypothesis-drawn geometries, and its errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv.nn.functional as F
from tests.helpers import check_op
from tinygrad_nv import Tensor


def _reference(x, w, b, stride, padding, output_padding, groups, dilation):
    n, cin, length = x.shape
    cout_g, k = w.shape[1], w.shape[2]
    cin_g = cin // groups
    full = (length - 1) * stride + dilation * (k - 1) + 1 + output_padding
    out = np.zeros((n, cout_g * groups, full + padding))
    for g in range(groups):
        for c in range(cin_g):
            for o in range(cout_g):
                for i in range(length):
                    for j in range(k):
                        out[:, g * cout_g + o, i * stride + j * dilation] += \
                            x[:, g * cin_g + c, i] * w[g * cin_g + c, o, j]
    size = (length - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
    out = out[:, :, padding:padding + size]
    return out + b[None, :, None] if b is not None else out


@given(data=hst.data())
def test_against_numpy_with_gradients(data, device):
    groups = data.draw(hst.sampled_from([1, 2]))
    cin, cout = groups * data.draw(hst.integers(1, 2)), groups * data.draw(hst.integers(1, 2))
    k, stride, dilation = (data.draw(hst.integers(1, 3)) for _ in range(3))
    padding = data.draw(hst.integers(0, (k - 1) * dilation // 2))
    output_padding = data.draw(hst.integers(0, stride - 1))  # (PyTorch: < max(stride, dilation))
    length = data.draw(hst.integers(1, 4))
    rng = np.random.default_rng(data.draw(hst.integers(0, 99)))
    x = Tensor(rng.normal(size=(2, cin, length)), device=device, requires_grad=True)
    w = Tensor(rng.normal(size=(cin, cout // groups, k)), device=device, requires_grad=True)
    b = Tensor(rng.normal(size=cout), device=device, requires_grad=True)
    args = (stride, padding, output_padding, groups, dilation)
    check_op(lambda *t: F.conv_transpose1d(*t, *args),
             lambda *a: _reference(*a, *args), x, w, b, gradgrad=False)


def test_against_torch_and_unbatched(device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, wa, ba = rng.normal(size=(3, 4, 6)), rng.normal(size=(4, 3, 3)), rng.normal(size=6)
    x, w, b = (Tensor(v, device=device, requires_grad=True) for v in (a, wa, ba))
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (a, wa, ba))
    y = F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1, groups=2,
                           dilation=(1,))
    ty = torch.nn.functional.conv_transpose1d(tx, tw, tb, 2, 1, 1, 2, 1)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.normal(size=y.shape)
    (y * Tensor(g, device=device)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10)
    single = F.conv_transpose1d(x[0], w, b, 2, 1, 1, 2)
    np.testing.assert_allclose(single.numpy(), y.numpy()[0], rtol=1e-12)


@pytest.mark.parametrize("call,exc,match", [
    (lambda x, w: F.conv_transpose1d(x, w.reshape(4, 3)), ValueError,
     r"conv_transpose1d: need input \(N, C, L\) or \(C, L\) and weight"),
    (lambda x, w: F.conv_transpose1d(x[:, :3], w), ValueError,
     "conv_transpose1d: input of shape .* has 3 channels"),
    (lambda x, w: F.conv_transpose1d(x, w, stride=(1, 2)), TypeError,
     "conv_transpose1d: stride must be an int or a 1-tuple"),
    (lambda x, w: F.conv_transpose1d(x, w, stride=2, output_padding=2), ValueError,
     "output_padding .* must be smaller than stride"),
])
def test_bad_inputs(call, exc, match):
    with pytest.raises(exc, match=match):
        call(Tensor.ones(2, 4, 5), Tensor.ones(4, 1, 3))
