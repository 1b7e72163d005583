"""How arrays and shapes are passed to the kernels of `kernels/*.cu` (launch.py and the jit's
GEMM plans): device addresses, 16-bit floats as their bits, int32 sizes."""

from __future__ import annotations

import numpy as np

from tinygrad_nv.backend.kernels import conv_out_size


def address(array) -> int:
    """The device address of an array's first element (CuPy: data.ptr; NumPy on emu)."""
    if isinstance(array, np.ndarray):  # (array.data is a memoryview, which refuses bfloat16)
        return array.ctypes.data
    return array.data.ptr


def bits(array):
    """float16 and bfloat16 arrays as the unsigned short bits of the f16 / bf16 kernels."""
    return array.view(np.uint16) if array.dtype.name in ("float16", "bfloat16") else array


def rows_cols(x) -> tuple:
    """A 2-D array's (rows, cols) as int32 scalars."""
    rows, cols = x.shape
    return np.int32(rows), np.int32(cols)


def conv_shape(op: str, x_shape, kernel, stride, padding, dilation, out=None) -> tuple:
    """conv.cu's ConvShape as int32 scalars: n c h w kh kw sh sw ph pw dh dw oh ow; the output
    size `out` (pooling's ceil_mode) or a convolution's."""
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    oh, ow = out or (conv_out_size(h, kh, sh, ph, dh), conv_out_size(w, kw, sw, pw, dw))
    if oh <= 0 or ow <= 0:
        raise ValueError(f"{op}: a {kh}x{kw} kernel (stride {stride}, padding {padding}, "
                         f"dilation {dilation}) does not fit an input of shape {tuple(x_shape)}")
    return tuple(np.int32(v) for v in (n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow))
