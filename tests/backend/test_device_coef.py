"""Coefficient records in device memory (kernels.DeviceCoef): the `_dev` kernels of optim.cu
(SGD, Adam, RMSprop) read the struct from a buffer and update bit for bit as the launches that
take the coefficients by value, in every storage dtype; the buffer's layout is the C struct's."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_nv import dtypes
from tinygrad_nv.backend import get_backend
from tinygrad_nv.backend.kernels import AdamCoef, DeviceCoef, RmspropCoef, SgdCoef

RECORDS = {"sgd": (SgdCoef.of(0.1, 0.9, 0.1, True, 0.01, False), 1),
           "adam": (AdamCoef.of(0.01, 0.9, 0.999, 1e-8, 0.05, 3, True), 2),
           "rmsprop": (RmspropCoef.of(0.01, 0.99, 1e-8, 0.01, 0.9, True), 3)}
DTYPES = ["float32", "float64", "float16", "bfloat16"]


@pytest.mark.emu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", list(RECORDS))
def test_dev_kernels_update_as_the_by_value_ones(opt, dtype):
    kernels = get_backend("emu").kernels
    dt = dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    record, states = RECORDS[opt]
    sizes = (300, 0, 7)

    def arrays():
        rng_ = np.random.default_rng(1)
        return [[np.abs(rng_.standard_normal(n)).astype(dt) for n in sizes]
                for _ in range(2 + states)]  # params, grads, states (non-negative)

    by_value, in_memory = arrays(), arrays()
    coef = DeviceCoef(type(record), kernels.xp)
    coef.upload(record)
    getattr(kernels, f"{opt}_multi")(*by_value, record)
    getattr(kernels, f"{opt}_multi")(*in_memory, coef)
    for a, b in zip(by_value, in_memory, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x.view(np.uint8), y.view(np.uint8))


def test_the_layout_is_the_c_struct():
    coef = DeviceCoef(AdamCoef, np)
    assert coef.layout(np.dtype(np.float32)).itemsize == 11 * 4
    assert coef.layout(np.dtype(np.float64)).itemsize == 10 * 8 + 8  # int padded to 8
    assert DeviceCoef(SgdCoef, np).layout(np.dtype(np.float64)).itemsize == 4 * 8 + 2 * 4
    record = SgdCoef.of(0.5, 0.25, 0.0, False, 0.125, True)
    coef = DeviceCoef(SgdCoef, np)
    coef.upload(record)
    struct = coef.buffers[np.dtype(np.float32)].view(coef.layout(np.dtype(np.float32)))[0]
    assert list(struct) == [0.5, 0.25, 1.0, 0.125, 0, 1]
    assert coef.momentum == 0.25  # the record's fields, for the launch code's choices
