"""PyTorch-style functions: `tinygrad_nv.cat([a, b])`, `tinygrad_nv.exp(x)`,
`tinygrad_nv.zeros(2, 3)`, ... Each is the op's own function (the tensor first), the same
one that `Tensor` binds as a method."""

from __future__ import annotations

from tinygrad_nv.creation import (
    empty_like,
    full_like,
    meshgrid,
    multinomial,
    ones_like,
    rand_like,
    randint_like,
    randn_like,
    zeros_like,
)
from tinygrad_nv.ops.activation import (
    celu,
    log_softmax,
    relu,
    selu,
    sigmoid,
    softmax,
    tanh,
)
from tinygrad_nv.ops.elementwise import (
    add,
    clip,
    div,
    floor_divide,
    fmod,
    maximum,
    minimum,
    mul,
    neg,
    positive,
    pow,
    remainder,
    sub,
    where,
)
from tinygrad_nv.ops.gather_scatter import (
    gather,
    index_select,
    scatter,
    scatter_add,
    scatter_reduce,
    take_along_dim,
)
from tinygrad_nv.ops.index import (
    masked_fill,
    masked_select,
    nonzero,
)
from tinygrad_nv.ops.logic import (
    allclose,
    bitwise_and,
    bitwise_left_shift,
    bitwise_not,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
    eq,
    ge,
    gt,
    isclose,
    isfinite,
    isinf,
    isnan,
    isneginf,
    isposinf,
    le,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    ne,
)
from tinygrad_nv.ops.matrix import (
    bmm,
    einsum,
    matmul,
    mm,
    mv,
    outer,
    tensordot,
)
from tinygrad_nv.ops.movement import (
    cat,
    chunk,
    flatten,
    hstack,
    movedim,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unflatten,
    unsqueeze,
    vstack,
)
from tinygrad_nv.ops.rearrange import (
    diag,
    diagonal,
    flip,
    repeat_interleave,
    roll,
    tile,
    tril,
    triu,
)
from tinygrad_nv.ops.reduce import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    count_nonzero,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    std,
    std_mean,
    sum,
    var,
    var_mean,
)
from tinygrad_nv.ops.scan import (
    argsort,
    cummax,
    cummin,
    cumprod,
    cumsum,
    logcumsumexp,
    sort,
    topk,
)
from tinygrad_nv.ops.unary import (
    abs,
    acos,
    acosh,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    ceil,
    copysign,
    cos,
    cosh,
    erf,
    erfc,
    exp,
    exp2,
    expm1,
    floor,
    frac,
    hypot,
    lerp,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    logaddexp2,
    reciprocal,
    round,
    rsqrt,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    tan,
    trunc,
)
from tinygrad_nv.tensor import Tensor

arange = Tensor.arange
empty = Tensor.empty
eye = Tensor.eye
from_dlpack = Tensor.from_dlpack
full = Tensor.full
linspace = Tensor.linspace
logspace = Tensor.logspace
normal = Tensor.normal
ones = Tensor.ones
rand = Tensor.rand
randint = Tensor.randint
randn = Tensor.randn
randperm = Tensor.randperm
zeros = Tensor.zeros



# PyTorch's other names for the same functions
clamp = clip
arccos = acos
arccosh = acosh
arcsin = asin
arcsinh = asinh
arctan = atan
arctan2 = atan2
arctanh = atanh
fix = trunc
dot = matmul
ger = outer
moveaxis = movedim
swapdims = transpose

__all__ = [
    "abs", "acos", "acosh", "add", "all", "allclose", "amax", "amin", "any",
    "arange", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh",
    "argmax", "argmin", "argsort", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_and",
    "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift", "bitwise_xor",
    "bmm", "cat", "ceil", "celu", "chunk", "clamp", "clip", "copysign", "cos", "cosh",
    "count_nonzero", "cummax", "cummin", "cumprod", "cumsum", "diag", "diagonal", "div", "dot",
    "einsum", "empty", "empty_like", "eq", "erf", "erfc", "exp", "exp2", "expm1", "eye", "fix",
    "flatten", "flip", "floor", "floor_divide", "fmod", "frac", "from_dlpack", "full",
    "full_like", "gather", "ge", "ger", "gt", "hstack", "hypot", "index_select", "isclose",
    "isfinite", "isinf", "isnan", "isneginf", "isposinf", "le", "lerp", "linspace", "log",
    "log10", "log1p", "log2", "log_softmax", "logaddexp", "logaddexp2", "logcumsumexp",
    "logical_and", "logical_not", "logical_or", "logical_xor", "logspace", "logsumexp", "lt",
    "masked_fill", "masked_select", "matmul", "max", "maximum", "mean", "meshgrid", "min",
    "minimum", "mm", "moveaxis", "movedim", "mul", "multinomial", "mv", "ne", "neg", "nonzero",
    "norm", "normal", "ones", "ones_like", "outer", "permute", "positive", "pow", "prod",
    "rand", "rand_like", "randint", "randint_like", "randn", "randn_like", "randperm",
    "reciprocal", "relu", "remainder", "repeat_interleave", "reshape", "roll", "round",
    "rsqrt", "scatter", "scatter_add", "scatter_reduce", "selu", "sigmoid", "sign", "sin",
    "sinh", "softmax", "sort", "split", "sqrt", "square", "squeeze", "stack", "std",
    "std_mean", "sub", "sum", "swapaxes", "swapdims", "take_along_dim", "tan", "tanh",
    "tensordot", "tile", "topk", "transpose", "tril", "triu", "trunc", "unflatten",
    "unsqueeze", "var", "var_mean", "vstack", "where", "zeros", "zeros_like",
]
