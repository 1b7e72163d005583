"""Unfold, Fold, PixelShuffle, PixelUnshuffle (and F.*) against NumPy loops, gradcheck and
gradgradcheck, round trips, errors; PyTorch where installed."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor
from tinygrad_nv.ops._checks import ShapeError

from ..helpers import check_op


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def blocks(h, w, k, d, p, s):
    """The top-left corners (padded coordinates) of the sliding blocks, row-major."""
    oh, ow = ((n + 2 * pp - dd * (kk - 1) - 1) // ss + 1
              for n, kk, dd, pp, ss in zip((h, w), k, d, p, s, strict=True))
    return [(i * s[0], j * s[1]) for i in range(oh) for j in range(ow)]


def unfold_reference(x, k, d, p, s):
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    cols = [padded[:, :, i:i + d[0] * (k[0] - 1) + 1:d[0], j:j + d[1] * (k[1] - 1) + 1:d[1]]
            .reshape(n, -1) for i, j in blocks(h, w, k, d, p, s)]
    return np.stack(cols, -1)


def fold_reference(cols, size, k, d, p, s):
    n, c = cols.shape[0], cols.shape[1] // (k[0] * k[1])
    out = np.zeros((n, c, size[0] + 2 * p[0], size[1] + 2 * p[1]))
    for b, (i, j) in enumerate(blocks(*size, k, d, p, s)):
        out[:, :, i:i + d[0] * (k[0] - 1) + 1:d[0], j:j + d[1] * (k[1] - 1) + 1:d[1]] += \
            cols[:, :, b].reshape(n, c, *k)
    return out[:, :, p[0]:p[0] + size[0], p[1]:p[1] + size[1]]


GEOMETRIES = [((2, 2), (1, 1), (0, 0), (1, 1)), ((2, 3), (1, 2), (1, 0), (2, 1)),
              ((3, 3), (1, 1), (1, 1), (2, 2))]


@pytest.mark.parametrize("k,d,p,s", GEOMETRIES)
def test_unfold_and_fold(k, d, p, s, device):
    x = Tensor(rand(1, 2, 5, 6), device=device)
    check_op(lambda a: F.unfold(a, k, d, p, s), lambda a: unfold_reference(a, k, d, p, s), x)
    cols = Tensor(unfold_reference(x.numpy(), k, d, p, s), device=device)
    check_op(lambda a: nn.Fold((5, 6), k, d, p, s)(a),
             lambda a: fold_reference(a, (5, 6), k, d, p, s), cols)
    np.testing.assert_allclose(nn.Unfold(k, d, p, s)(x[0]).numpy(),  # unbatched
                               unfold_reference(x.numpy()[:1], k, d, p, s)[0])


def test_fold_of_unfold_counts_the_blocks_covering_each_pixel():
    x = Tensor(np.ones((1, 1, 4, 4)))
    counts = F.fold(F.unfold(x, 3, padding=1), (4, 4), 3, padding=1).numpy()[0, 0]
    np.testing.assert_array_equal(counts, [[4, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6],
                                           [4, 6, 6, 4]])


@pytest.mark.parametrize("shape,r", [((1, 8, 2, 3), 2), ((1, 2, 9, 1, 2), 3), ((4, 1, 1), 2)])
def test_pixel_shuffle(shape, r, device):
    x = Tensor(rand(*shape), device=device)
    if shape[-3] % (r * r):
        with pytest.raises(ShapeError, match="divisible by upscale_factor"):
            F.pixel_shuffle(x, r)
        return
    check_op(lambda a: nn.PixelShuffle(r)(a), lambda a: shuffle_reference(a, r), x)
    shuffled = Tensor(shuffle_reference(x.numpy(), r), device=device)
    check_op(lambda a: F.pixel_unshuffle(a, r), lambda a: unshuffle_reference(a, r), shuffled)


def shuffle_reference(a, r):
    """Channel ch goes to channel ch // r^2, at the offsets (ch % r^2 // r, ch % r)."""
    *lead, c, h, w = a.shape
    out = np.empty((*lead, c // (r * r), h * r, w * r))
    for ch in range(c):
        out[..., ch // (r * r), (ch % (r * r)) // r::r, ch % r::r] = a[..., ch, :, :]
    return out


def unshuffle_reference(a, r):
    *lead, c, h, w = a.shape
    out = np.empty((*lead, c * r * r, h // r, w // r))
    for ch in range(c * r * r):
        out[..., ch, :, :] = a[..., ch // (r * r), (ch % (r * r)) // r::r, ch % r::r]
    return out


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(1, 2))
def test_pixel_shuffle_round_trip(c, r, h, w):
    x = rand(2, c * r * r, h, w)
    np.testing.assert_array_equal(F.pixel_unshuffle(F.pixel_shuffle(Tensor(x), r), r).numpy(),
                                  x)


def test_bad_input():
    with pytest.raises(ValueError, match=r"unfold: expected a 3-D \(C, H, W\) or 4-D"):
        F.unfold(Tensor.ones(2, 3), 2)
    with pytest.raises(ShapeError, match=r"fold: the input's dimension 1 \(6\) must be "
                                         r"divisible by the product of kernel_size \(2, 2\)"):
        F.fold(Tensor.ones(1, 6, 4), 3, 2)
    with pytest.raises(ShapeError, match="give 2 \\* 2 = 4 sliding blocks, but the input's "
                                         "dimension 2 is 5"):
        F.fold(Tensor.ones(1, 4, 5), 3, 2)
    with pytest.raises(ShapeError, match="larger than the padded input"):
        F.unfold(Tensor.ones(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match="pixel_shuffle: upscale_factor must be a positive"):
        F.pixel_shuffle(Tensor.ones(1, 4, 2, 2), 0)
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        nn.PixelUnshuffle(2)(Tensor.ones(4, 4))
    with pytest.raises(ShapeError, match="pixel_unshuffle: height and width must be divisible"):
        F.pixel_unshuffle(Tensor.ones(1, 1, 4, 3), 2)


@pytest.mark.parametrize("make,shape", [
    (lambda m: m.Unfold((2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), (2, 3, 5, 6)),
    (lambda m: m.Fold((4, 5), 2, stride=(2, 1)), (2, 8, 8)),
    (lambda m: m.PixelShuffle(2), (2, 8, 3, 2)),
    (lambda m: m.PixelUnshuffle(3), (1, 2, 6, 3)),
])
def test_against_torch(make, shape):
    torch = pytest.importorskip("torch")
    from .torch_reference import compare_with_torch
    compare_with_torch(make(nn), make(torch.nn), rand(*shape), rtol=1e-12, atol=1e-14)
    assert repr(make(nn)) == repr(make(torch.nn))
