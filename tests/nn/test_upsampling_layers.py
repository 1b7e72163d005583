"""UpsamplingNearest2d, UpsamplingBilinear2d and F.upsample/upsample_nearest/upsample_bilinear
against torch (values, gradients, reprs)."""

import warnings

import numpy as np
import pytest

import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor, nn

CASES = [("UpsamplingNearest2d", {"scale_factor": 2}), ("UpsamplingNearest2d", {"size": (5, 3)}),
         ("UpsamplingBilinear2d", {"scale_factor": 2}), ("UpsamplingBilinear2d", {"size": 5})]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{c[0]}-{list(c[1])[0]}" for c in CASES])
def test_layers_match_torch(name, kwargs, device):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    a = np.random.default_rng(0).normal(size=(2, 3, 4, 3))
    x, tx = Tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation notes
        y, ty = ours(x), theirs(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(1).normal(size=y.shape)
    (y * Tensor(g, device=device)).sum().backward(), (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_functional_names_match_torch(device):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    a = np.random.default_rng(0).normal(size=(1, 2, 3, 4))
    x, tx = Tensor(a, device=device), torch.tensor(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ours, theirs in ((F.upsample_nearest(x, scale_factor=2), tf.upsample_nearest(
                tx, scale_factor=2)), (F.upsample_bilinear(x, size=(4, 6)),
                                       tf.upsample_bilinear(tx, size=(4, 6))),
                             (F.upsample(x, scale_factor=3, mode="bilinear"),
                              tf.upsample(tx, scale_factor=3, mode="bilinear"))):
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="interpolate: give exactly one of size and "
                                         "scale_factor"):
        nn.UpsamplingNearest2d()(x)
