"""dtypes: NumPy dtype objects under tinygrad's names, and the promotion rules."""

from __future__ import annotations

import numpy as np

DType = np.dtype


class dtypes:  # noqa: N801  (tinygrad's spelling)
    """The supported dtypes: `dtypes.float32` is `np.dtype('float32')`, and so on."""

    float32 = np.dtype("float32")
    float64 = np.dtype("float64")
    float16 = np.dtype("float16")
    int8 = np.dtype("int8")
    uint8 = np.dtype("uint8")
    int16 = np.dtype("int16")
    int32 = np.dtype("int32")
    int64 = np.dtype("int64")
    bool = np.dtype("bool")
    default_float = float32
    default_int = int64
    all = (float32, float64, float16, int8, uint8, int16, int32, int64, bool)

    @staticmethod
    def is_float(dtype: DType) -> bool:
        return dtype.kind == "f"


_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "int": "int32",
            "long": "int64", "float_": "float64", "char": "int8", "byte": "uint8",
            "short": "int16"}


def to_dtype(dtype) -> DType:
    """Any dtype spelling (np.float32, 'float32', 'long', dtypes.int64) as a supported dtype."""
    if isinstance(dtype, str):
        dtype = _ALIASES.get(dtype, dtype)
    try:
        dt = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"unknown dtype {dtype!r}; valid dtypes: "
                        f"{', '.join(d.name for d in dtypes.all)}") from e
    if dt not in dtypes.all:
        raise TypeError(f"dtype {dt.name} is not supported; valid dtypes: "
                        f"{', '.join(d.name for d in dtypes.all)}")
    return dt


def accumulation_dtype(dtype: DType) -> DType:
    """The dtype that reductions, scans, softmax, norms and losses compute in for `dtype`
    (then rounding back to it): float32 for the floats narrower than float32 (float16, and
    bfloat16 where it exists), as PyTorch accumulates them; every other dtype is its own."""
    return dtypes.float32 if dtype.itemsize < 4 and dtypes.is_float(dtype) else dtype


def result_dtype(a: DType, b: DType) -> DType:
    """NumPy's promotion between two tensors' dtypes, kept inside the supported set."""
    dt = np.result_type(a, b)
    return dt if dt in dtypes.all else dtypes.float64


def scalar_dtype(tensor_dtype: DType, value) -> DType:
    """The result dtype of tensor (op) Python scalar: the scalar never widens the tensor,
    but a float scalar makes an integer/bool result float32 and an int makes a bool int64."""
    if value is None or isinstance(value, bool):
        return tensor_dtype
    if isinstance(value, float) and tensor_dtype.kind != "f":
        return dtypes.default_float
    if isinstance(value, int) and tensor_dtype.kind == "b":
        return dtypes.default_int
    return tensor_dtype
