"""Every kind of op on an instrumented `emu:1` (tinygrad_nv.testing.instrumented): forward and
backward run each array call with emu:1 current, never wait for the device where the result
does not depend on device values (a count read back, as nonzero without size=), and give
what the same op gives on the CPU."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import tinygrad_nv.backend as backends
import tinygrad_nv.nn as nn
from tinygrad_nv import Tensor
from tinygrad_nv.testing.instrumented import instrumented

pytestmark = pytest.mark.emu
DEV = "emu:1"


def inputs(device: str) -> SimpleNamespace:
    """The same values on any device: floats that need gradients, specials, ints, masks."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    x[1, 2] = x[1, 0]  # a tie for argmax/sort/cummax
    specials = np.array([[0.0, np.nan, np.inf, -np.inf], [1.0, -1.0, 1e-9, 2.0]], np.float32)
    return SimpleNamespace(
        x=Tensor(x, device=device, requires_grad=True),
        y=Tensor(rng.standard_normal((3, 4)).astype(np.float32), device=device,
                 requires_grad=True),
        specials=Tensor(specials, device=device),
        i=Tensor(rng.integers(-8, 8, (3, 4)), device=device),
        j=Tensor(rng.integers(0, 4, (3, 4)), device=device),
        idx=Tensor(np.array([2, 0, 2]), device=device),
        mask=Tensor(x > 0, device=device),
        bytes=Tensor((x > 0).astype(np.uint8), device=device))


def assigned(d):
    z = d.x.detach().clone()
    z[0, 1:3] = 5.0
    z[d.idx] = 0.5
    z[:, d.idx] = d.y.detach()[:, :3]
    return z


# name -> op(inputs) -> a tensor or a tuple of tensors
SYNC_FREE = {
    "comparisons": lambda d: (d.x > 0, d.x <= d.y, d.x == d.y, d.x != 0, d.x.lt(0.5),
                              d.x.ge(d.y), 1.0 < d.x),
    "logical": lambda d: (d.x.logical_and(d.y), d.mask.logical_or(d.i),
                          d.i.logical_xor(d.mask), d.x.logical_not()),
    "integer_arithmetic": lambda d: (d.i // (d.j + 1), d.i % (d.j + 1), d.i.round(),
                                     d.i.floor(), Tensor(d.x), d.x.t()),
    "bitwise": lambda d: (d.i & d.j, d.i | d.j, d.i ^ d.j, ~d.i, ~d.mask, d.mask & True,
                          3 | d.i, 5 ^ d.j, d.j << 2, d.i >> 1, 1 << d.j, 64 >> d.j),
    "value_tests": lambda d: (d.specials.isnan(), d.specials.isinf(), d.specials.isposinf(),
                              d.specials.isneginf(), d.specials.isfinite(),
                              d.specials.isclose(d.specials, equal_nan=True),
                              d.x.isclose(d.y, rtol=0.5, atol=0.5)),
    "argmax_argmin": lambda d: (d.x.argmax(), d.x.argmax(1, keepdim=True), d.x.argmin(0),
                                d.x.argmin(keepdim=True), d.x.sum().argmax(0)),
    "count_all_any": lambda d: (d.x.count_nonzero(), d.i.count_nonzero(1), d.mask.all(),
                                d.mask.any(0), d.bytes.all(1, keepdim=True), d.i.any()),
    "max_min_logsumexp": lambda d: (*d.x.max(1), d.x.min(), d.x.amax(0), d.x.logsumexp(1),
                                    d.specials.logsumexp(1), d.x[:, :0].logsumexp(1)),
    "cumsum_cumprod_logcumsumexp": lambda d: (d.x.cumsum(1), d.x.cumprod(0),
                                              d.x.logcumsumexp(1), d.i.cumsum(0)),
    "cummax_cummin": lambda d: (*d.x.cummax(1), *d.x.cummin(0), *d.specials.cummax(1)),
    "sort_argsort_topk": lambda d: (*d.x.sort(1), *d.x.sort(0, descending=True),
                                    d.x.argsort(1, descending=True), *d.x.topk(2, 1),
                                    *d.x.topk(2, 0, largest=False)),
    "integer_indexing": lambda d: (d.x[d.idx], d.x[1, d.idx], d.x[:, d.idx], d.x[[0, 2]],
                                   d.x[d.idx, d.idx], d.x[[]]),
    "setitem": assigned,
    "masked_fill": lambda d: (d.x.masked_fill(d.mask, 0.0), d.x.masked_fill(~d.mask, d.y[0, 0]),
                              d.i.masked_fill(d.mask, 7)),
    "masked_select_size": lambda d: (d.x.masked_select(d.mask, size=8),
                                     d.x.masked_select(d.mask, size=3, fill_value=-1.0)),
    "nonzero_size": lambda d: (d.i.nonzero(size=14, fill_value=-1),
                               *d.mask.nonzero(size=3, as_tuple=True)),
    "one_hot": lambda d: d.j.one_hot(5),
    "gather_scatter": lambda d: (d.x.gather(1, d.j), d.x.scatter(1, d.j[:, :2], d.y),
                                 d.x.scatter(0, d.j[:2].clamp(0, 2), 1.5),
                                 d.x.scatter_add(1, d.j, d.y)),
    "scatter_reduce": lambda d: tuple(
        d.x.scatter_reduce(1, d.j, d.y, reduce, include_self=include_self)
        for reduce in ("sum", "mean", "amax", "amin") for include_self in (True, False)),
    "index_select_take_along_dim": lambda d: (d.x.index_select(1, d.idx),
                                              d.x.take_along_dim(d.j, 1),
                                              d.x.take_along_dim(d.idx)),
    "pads": lambda d: (d.x.pad((1, 2), value=3.0), d.x.pad((-1, 2, 1, -1)),
                       d.x.pad((2, 3, 1, 2), mode="reflect"),
                       d.x.pad((2, 1, -1, 2), mode="replicate"),
                       d.x.pad((2, 3, -1, 1), mode="circular")),
    "unfold_repeat_interleave": lambda d: (d.x.unfold(1, 2, 1), d.x.repeat_interleave(2, 0),
                                           d.x.repeat_interleave(d.idx, 0, output_size=4)),
}
# the count, size or values of the result are read from the device: a sync, but placed
NEEDS_DEVICE_VALUES = {
    "mask_indexing": lambda d: (d.x[d.mask], d.x[d.bytes], d.x[:, d.mask[0]]),
    "masked_select": lambda d: d.x.masked_select(d.mask),
    "nonzero": lambda d: (d.i.nonzero(), *d.mask.nonzero(as_tuple=True), d.x[0, 0].nonzero()),
    "one_hot_inferred": lambda d: d.j.one_hot(),
    "repeat_interleave_counts": lambda d: d.x.repeat_interleave(d.idx, 0),
    "scatter_reduce_prod": lambda d: d.x.scatter_reduce(1, d.j, d.y, "prod"),
    "allclose": lambda d: d.x[0].sum() + float(d.x.allclose(d.y)),
}
CASES = {**SYNC_FREE, **NEEDS_DEVICE_VALUES}


def run(name: str, device: str) -> list:
    """The case's outputs, then the gradients of the inputs, after one backward through the
    float outputs."""
    d = inputs(device)
    out = CASES[name](d)
    outs = list(out) if isinstance(out, tuple) else [out]
    differentiable = [o for o in outs if o.requires_grad]
    if differentiable:
        sum(o.sum() for o in differentiable).backward()
    return outs + [t.grad for t in (d.x, d.y) if t.grad is not None]


@pytest.mark.filterwarnings("ignore:divide by zero")  # log(0) = -inf on purpose
@pytest.mark.parametrize("name", sorted(CASES))
def test_ops_run_on_their_device_as_on_the_cpu(name):
    with instrumented(DEV) as probe:
        got = run(name, DEV)
        misplaced, syncs = list(probe.misplaced), list(probe.syncs)
    assert misplaced == []
    if name in SYNC_FREE:
        assert syncs == []
    assert probe.launches > 0 and all(str(t.device) == DEV for t in got)
    for ours, cpu in zip(got, run(name, "cpu"), strict=True):
        assert (ours.shape, ours.dtype) == (cpu.shape, cpu.dtype)
        np.testing.assert_allclose(ours.numpy(), cpu.numpy(), rtol=1e-6, atol=1e-6)


def test_batch_norm_cumulative_average_on_the_device():
    """momentum=None: the running statistics are the plain average over batches, with the
    batch count kept and used on the device."""
    batches = np.random.default_rng(1).standard_normal((3, 5, 2)).astype(np.float32)
    with instrumented(DEV) as probe:
        bn = nn.BatchNorm1d(2, momentum=None).to(DEV)
        for batch in batches:
            bn(Tensor(batch, device=DEV, requires_grad=True)).sum().backward()
        misplaced, syncs = list(probe.misplaced), list(probe.syncs)
    assert misplaced == [] and syncs == []
    assert bn.num_batches_tracked.item() == 3 and str(bn.num_batches_tracked.device) == DEV
    np.testing.assert_allclose(bn.running_mean.numpy(), batches.mean(axis=1).mean(axis=0),
                               rtol=1e-5, atol=1e-6)
    # the first batch replaces the initial values (its factor 1 / count is 1)
    np.testing.assert_allclose(bn.running_var.numpy(), batches.var(axis=1, ddof=1).mean(axis=0),
                               rtol=1e-5)


def test_layers_made_on_a_default_device_initialise_there(monkeypatch):
    """Parameters drawn and filled (Embedding's padding row included) with emu:1 current."""
    with instrumented(DEV) as probe:
        monkeypatch.setattr(backends, "_default", DEV)
        layers = [nn.Embedding(5, 3, padding_idx=1), nn.Linear(3, 2), nn.Conv2d(1, 2, 3),
                  nn.BatchNorm1d(3), nn.LayerNorm(3)]
        misplaced = list(probe.misplaced)
    assert misplaced == [] and probe.launches > 0
    assert all(str(p.device) == DEV for layer in layers for p in layer.parameters())
    weight = layers[0].weight.numpy()
    assert (weight[1] == 0).all() and (weight[[0, 2, 3, 4]] != 0).all()
