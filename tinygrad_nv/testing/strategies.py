"""Hypothesis strategies for shapes, broadcastable shape pairs, axes and tensors.

>>> from hypothesis import given
>>> from tinygrad_nv.testing import strategies as st
>>> @given(st.tensors(shape=st.shapes(max_dims=3)))
... def test_double(x): assert ((x + x) - 2 * x).abs().max().item() == 0
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.dtype import dtypes, to_dtype


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
           max_side: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes, small by default (gradchecks cost two evaluations per element)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3,
                         min_side: int = 1, max_side: int = 4
                         ) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """Tuples of shapes that broadcast together (size-1 axes and missing leading axes)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda b: b.input_shapes)


@st.composite
def axes(draw, ndim: int, allow_none: bool = True, allow_tuple: bool = True) -> Any:
    """An axis argument for a tensor of `ndim` dims: None, an int (possibly negative) or a
    tuple of distinct ints."""
    options = []
    if allow_none:
        options.append(st.none())
    if ndim:
        options.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            options.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                                    unique=True).map(lambda a: tuple(
                                        x - ndim if i % 2 else x for i, x in enumerate(a))))
    return draw(st.one_of(options)) if options else None


_TIE_STEP = 1 / 64 / 1024


@st.composite
def tensors(draw, shape: Any = None, dtype: Any = dtypes.float64, low: float = -3.0,
            high: float = 3.0, avoid: tuple[float, ...] = (), margin: float = 1e-2,
            device: str | None = None, requires_grad: bool = False) -> Tensor:
    """Tensors of `shape` (a tuple or a strategy; by default `shapes()`) with values in
    [low, high], at least `margin` away from every point in `avoid` (the kinks of relu, abs,
    max, ... where finite differences mislead).

    Floats lie on a grid of 1/64 steps plus a distinct multiple of 1/65536 per element, so (up
    to 1024 elements) no two are within 1.5e-5 of each other: max/min gradients never meet a
    near-tie, where finite differences would straddle the kink."""
    shape = draw(shape if isinstance(shape, st.SearchStrategy) else
                 st.just(shape) if shape is not None else shapes())
    dt = to_dtype(dtype)
    if dt.kind == "f":
        values = draw(hnp.arrays(np.float64, shape, elements=st.floats(
            low, high, allow_nan=False, allow_infinity=False)))
        size = int(np.prod(shape))
        order = np.random.default_rng(draw(st.integers(0, 2**16))).permutation(max(size, 1))
        offsets = (order[:size].reshape(shape) if shape else order[0]) * _TIE_STEP
        values = np.clip(np.floor(values * 64) / 64, low, high - size * _TIE_STEP) + offsets
        for point in avoid:  # pushed out to margin + its own offset: still no ties
            near = np.abs(values - point) < margin
            values = np.where(near, point + np.where(values >= point, 1, -1) * (margin + offsets),
                              values)
    elif dt.kind == "b":
        values = draw(hnp.arrays(np.bool_, shape))
    else:
        values = draw(hnp.arrays(np.int64, shape, elements=st.integers(int(low), int(high))))
    return Tensor(values.astype(dt), device=device, requires_grad=requires_grad)
