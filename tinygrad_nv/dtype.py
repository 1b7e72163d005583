"""dtypes: NumPy dtype objects under tinygrad's names, and the promotion rules.

bfloat16 is `ml_dtypes.bfloat16` (a NumPy dtype extension; CuPy >= 14 takes the same dtype
for its arrays). ml_dtypes is the `bf16` extra (its wheel is small, about 0.5 MB, but not
pure Python): without it every dtype but bfloat16 works, and asking for bfloat16 raises an
ImportError that says what to install. It is imported on first use of bfloat16 (or as soon
as anyone has imported it): loading its extension takes about a CPU-second, which
`import tinygrad_nv` does not pay."""

from __future__ import annotations

import sys

import numpy as np

DType = np.dtype
BFLOAT16_MISSING = ("bfloat16 needs the ml_dtypes package (NumPy's bfloat16 dtype): "
                    "pip install 'tinygrad_nv[bf16]' (or pip install ml_dtypes)")
_BASE = tuple(np.dtype(n) for n in ("float32", "float64", "float16", "int8", "uint8", "int16",
                                     "int32", "int64", "bool"))
_bfloat16: list = []  # ml_dtypes' bfloat16 once loaded


def bfloat16_dtype() -> DType | None:
    """ml_dtypes' bfloat16, importing ml_dtypes on first use; None where it is missing."""
    if not _bfloat16:
        try:
            import ml_dtypes
        except ImportError:
            return None
        _bfloat16.append(np.dtype(ml_dtypes.bfloat16))
    return _bfloat16[0]


class _DTypesMeta(type):
    @property
    def all(cls) -> tuple:
        """The supported dtypes (bfloat16 among them once ml_dtypes is loaded, by anyone:
        an array of it can exist only then)."""
        if not _bfloat16 and "ml_dtypes" in sys.modules:
            bfloat16_dtype()
        return (*_BASE, *_bfloat16)

    def __getattr__(cls, name: str):
        if name == "bfloat16":
            dt = bfloat16_dtype()
            if dt is None:
                raise ImportError(BFLOAT16_MISSING)
            return dt
        raise AttributeError(f"type object 'dtypes' has no attribute {name!r}")


class dtypes(metaclass=_DTypesMeta):  # noqa: N801  (tinygrad's spelling)
    """The supported dtypes: `dtypes.float32` is `np.dtype('float32')`, and so on;
    `dtypes.bfloat16` is `np.dtype(ml_dtypes.bfloat16)`; `dtypes.all` lists them."""

    float32, float64, float16, int8, uint8, int16, int32, int64, bool = _BASE
    default_float = float32
    default_int = int64

    @staticmethod
    def is_float(dtype: DType) -> bool:
        """Whether `dtype` is a floating point dtype (bfloat16, whose NumPy kind is 'V',
        included): PyTorch's `dtype.is_floating_point`."""
        return dtype.kind == "f" or dtype.name == "bfloat16"


def is_floating(dtype: DType) -> bool:
    """dtypes.is_float as a function: True for float16/bfloat16/float32/float64."""
    return dtype.kind == "f" or dtype.name == "bfloat16"


_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "int": "int32",
            "long": "int64", "float_": "float64", "char": "int8", "byte": "uint8",
            "short": "int16"}


def to_dtype(dtype) -> DType:
    """Any dtype spelling (np.float32, 'float32', 'long', dtypes.int64) as a supported dtype."""
    if isinstance(dtype, str):
        dtype = _ALIASES.get(dtype, dtype)
        if dtype == "bfloat16":
            return dtypes.bfloat16  # (an ImportError naming the extra without ml_dtypes)
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
    return dtypes.float32 if dtype.itemsize < 4 and is_floating(dtype) else dtype


def result_dtype(a: DType, b: DType) -> DType:
    """NumPy's promotion between two tensors' dtypes, kept inside the supported set; with
    bfloat16, PyTorch's: integers and bools give bfloat16, float16 gives float32, wider
    floats win."""
    if a.name == "bfloat16" or b.name == "bfloat16":
        other = b if a.name == "bfloat16" else a
        if not is_floating(other) or other == a == b:
            return a if a.name == "bfloat16" else b
        return dtypes.float32 if other == dtypes.float16 else other
    dt = np.result_type(a, b)
    return dt if dt in dtypes.all else dtypes.float64


def scalar_dtype(tensor_dtype: DType, value) -> DType:
    """The result dtype of tensor (op) Python scalar: the scalar never widens the tensor,
    but a float scalar makes an integer/bool result float32 and an int makes a bool int64."""
    if value is None or isinstance(value, bool):
        return tensor_dtype
    if isinstance(value, float) and not is_floating(tensor_dtype):
        return dtypes.default_float
    if isinstance(value, int) and tensor_dtype.kind == "b":
        return dtypes.default_int
    return tensor_dtype
