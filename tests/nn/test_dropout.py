"""Dropout1d/2d/3d, AlphaDropout, FeatureAlphaDropout and their functional forms: which
elements survive, the scales, statistics, gradients, eval mode, errors; PyTorch's alpha
dropout values where installed."""

import math

import numpy as np
import pytest

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor
from tinygrad_nv.testing import gradcheck, gradgradcheck

ALPHA = 1.7580993408473766


def alpha_values(x, p):
    """The two values alpha dropout may give each element: kept, dropped."""
    a = 1 / math.sqrt((ALPHA ** 2 * p + 1) * (1 - p))
    return a * x + ALPHA * a * p, ALPHA * a * (p - 1)


@pytest.mark.parametrize("fn,shape,channel_axes", [
    (F.dropout1d, (4, 6, 5), 2), (F.dropout1d, (6, 5), 1), (F.dropout2d, (4, 6, 3, 3), 2),
    (F.dropout3d, (2, 6, 2, 2, 2), 2), (F.dropout3d, (6, 2, 2, 2), 1)])
def test_channel_dropout_zeroes_whole_channels(fn, shape, channel_axes, device):
    x = np.random.default_rng(0).uniform(1, 2, shape).astype(np.float32)
    out = fn(Tensor(x, device=device), p=0.25).numpy()
    planes = out.reshape(int(np.prod(shape[:channel_axes])), -1)
    source = x.reshape(planes.shape)
    kept = (planes != 0).all(1)
    assert ((planes == 0).all(1) | kept).all()  # each plane all kept or all dropped
    np.testing.assert_allclose(planes[kept], source[kept] / 0.75, rtol=1e-6)
    assert 0 < kept.sum() < len(kept)


def test_channel_dropout_rate_and_modes(device):
    x = Tensor.ones(200, 100, 2, device=device)
    kept = (F.dropout1d(x, p=0.3).numpy()[..., 0] != 0).mean()
    assert abs(kept - 0.7) < 0.01
    x4 = x[..., None]
    assert F.dropout2d(x4, 0.5, training=False) is x4
    for fn in (F.dropout1d, F.dropout3d):
        assert (fn(x if fn is F.dropout1d else x[..., None, None], 0.0).numpy() == 1).all()
    assert (F.dropout1d(x, 1.0).numpy() == 0).all()
    layer = nn.Dropout1d(0.9).eval()
    assert layer(x) is x
    assert repr(nn.Dropout2d(0.2)) == "Dropout2d(p=0.2, inplace=False)"


def test_alpha_dropout_values_and_statistics(device):
    x = np.random.default_rng(0).standard_normal((400, 500))
    p = 0.2
    out = F.alpha_dropout(Tensor(x, device=device), p, training=True).numpy()
    kept, dropped = alpha_values(x, p)
    is_kept = np.isclose(out, kept, rtol=1e-12, atol=1e-12)
    assert (is_kept | np.isclose(out, dropped, rtol=1e-12)).all()
    assert abs(is_kept.mean() - 0.8) < 0.005
    assert abs(out.mean()) < 0.01 and abs(out.var() - 1) < 0.01  # SELU's fixed point kept
    # training=False by default: the identity
    np.testing.assert_array_equal(F.alpha_dropout(Tensor(x), p).numpy(), x)
    np.testing.assert_array_equal(F.alpha_dropout(Tensor(x), 1.0, True).numpy(), 0 * x)


def test_feature_alpha_dropout_per_channel(device):
    x = np.random.default_rng(1).standard_normal((8, 5, 3))
    out = nn.FeatureAlphaDropout(0.4)(Tensor(x, device=device)).numpy()
    kept, dropped = alpha_values(x, 0.4)
    is_kept = np.isclose(out, kept, rtol=1e-12, atol=1e-12)
    assert (is_kept.all(2) | np.isclose(out, dropped).all(2)).all()
    t = Tensor(x)
    assert nn.AlphaDropout(0.4).eval()(t) is t and nn.FeatureAlphaDropout(0.4).eval()(t) is t


@pytest.mark.parametrize("fn", [
    lambda a: F.dropout2d(a, 0.4), lambda a: F.dropout1d(a[0], 0.4),
    lambda a: F.alpha_dropout(a, 0.3, True), lambda a: F.feature_alpha_dropout(a, 0.3, True)])
def test_gradients(fn):
    def seeded(a):  # the same mask at every evaluation
        Tensor.manual_seed(3)
        return fn(a)
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4, 2, 2)), requires_grad=True)
    assert gradcheck(seeded, [x]) and gradgradcheck(seeded, [x])


def test_bad_input():
    with pytest.raises(ValueError, match="dropout1d: dropout probability has to be between"):
        F.dropout1d(Tensor.ones(2, 3), 1.5)
    with pytest.raises(ValueError, match="AlphaDropout: dropout probability"):
        nn.AlphaDropout(-0.1)
    with pytest.raises(RuntimeError, match=r"dropout1d: expected a 2-D or 3-D.*\(2, 3, 4, 5\)"):
        F.dropout1d(Tensor.ones(2, 3, 4, 5))
    with pytest.raises(RuntimeError, match="dropout3d: expected a 4-D or 5-D"):
        nn.Dropout3d()(Tensor.ones(2, 3, 4))
    with pytest.warns(UserWarning, match="reads it as"):
        F.dropout2d(Tensor.ones(2, 3, 4))
    with pytest.warns(UserWarning, match="received a 2-D input"):
        F.dropout2d(Tensor.ones(2, 3))


def test_alpha_dropout_values_are_pytorchs():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((50, 40))
    theirs = torch.nn.functional.alpha_dropout(torch.tensor(x), 0.3, True).numpy()
    kept, dropped = alpha_values(x, 0.3)
    assert (np.isclose(theirs, kept, rtol=1e-12) | np.isclose(theirs, dropped, rtol=1e-12)).all()
    with pytest.warns(UserWarning, match="interpreted as shape"):  # read as (N, C, L)
        theirs = torch.nn.functional.dropout2d(torch.ones(4, 6, 3), 0.5).numpy()
    assert ((theirs == 0).all(2) | (theirs == 2).all(2)).all()
