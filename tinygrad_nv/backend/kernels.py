"""The kernel contract: what every backend's `kernels` object provides (`Kernels`), the
coefficient records that the CUDA sources mirror (one frozen dataclass per `<Opt>Coef` struct
of kernels/optim.cu, fields in the struct's order), and the constants ops share with the
kernels (`ACTIVATIONS`, `conv_out_size`, the `erf` reference). Ops see a backend's kernels only
through this contract, and `tinygrad_nv.jit` records kernel calls at it.

Implementations: `NumpyKernels` (numpy_kernels.py: NumPy ufuncs, the reference of every CUDA
kernel; the CPU backend's) and `CudaKernels` (launch.py: the `kernels/*.cu` launches; the
cuda and emu backends').

>>> coef = AdamCoef.of(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, step=1,
...                    decoupled=False)
>>> backend.kernels.adam_multi(params, grads, exp_avgs, exp_avg_sqs, coef)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tinygrad_nv.backend.erf import erf, erfc  # noqa: F401  (the reference of `Kernels.erf`)

ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh",
               "silu", "softplus", "elu")  # activation.cu's enum Act, in order


def conv_out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of a convolution or pooling window along one axis (PyTorch's formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


# ---------------------------------------------------------------------- coefficient records
@dataclasses.dataclass(frozen=True)
class Coefficients:
    """A coefficient struct of kernels/optim.cu: floats (rounded to the update's math dtype
    when cast) then int flags, in the struct's order; `of(...)` computes it on the host in
    float64, as PyTorch computes its Python scalars."""

    def values(self) -> tuple:
        """The fields in the CUDA struct's order (flags as ints)."""
        # __dict__ holds the fields in their order (dataclasses.fields is slow per call)
        return tuple([int(v) if isinstance(v, bool) else v for v in self.__dict__.values()])

    def cast(self, xp: Any, math: Any) -> tuple:
        """The fields as the kernels' argument types: floats as scalars of the math dtype,
        flags as int32."""
        # tuple(list), not tuple(generator): that one resizes its tuple, which then stays in
        # CPython's free list when freed (up to 2000 per size: 170 KiB over an MLP run)
        kind = math.type
        return tuple([kind(v) if isinstance(v, float) else xp.int32(v)
                      for v in self.__dict__.values()])


@dataclasses.dataclass(frozen=True)
class SgdCoef(Coefficients):
    """SgdCoef: `first` is the step that starts the momentum buffer at the gradient."""

    lr: float
    momentum: float
    one_minus_dampening: float
    weight_decay: float
    nesterov: bool
    first: bool

    @classmethod
    def of(cls, lr: float, momentum: float, dampening: float, nesterov: bool,
           weight_decay: float, first: bool) -> SgdCoef:
        return cls(float(lr), float(momentum), 1.0 - dampening, float(weight_decay),
                   bool(nesterov), bool(first))


@dataclasses.dataclass(frozen=True)
class AdamCoef(Coefficients):
    """AdamCoef: bias corrections 1 - beta^t and AdamW's decay 1 - lr weight_decay."""

    lr: float
    beta1: float
    beta2: float
    one_minus_beta1: float
    one_minus_beta2: float
    eps: float
    weight_decay: float
    decay: float
    bias1: float
    bias2: float
    decoupled: bool

    @classmethod
    def of(cls, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
           step: int, decoupled: bool) -> AdamCoef:
        return cls(float(lr), float(beta1), float(beta2), 1.0 - beta1, 1.0 - beta2, float(eps),
                   float(weight_decay), 1.0 - lr * weight_decay, 1.0 - beta1**step,
                   1.0 - beta2**step, bool(decoupled))


@dataclasses.dataclass(frozen=True)
class RmspropCoef(Coefficients):
    """RmspropCoef."""

    lr: float
    alpha: float
    one_minus_alpha: float
    eps: float
    weight_decay: float
    momentum: float
    centered: bool

    @classmethod
    def of(cls, lr: float, alpha: float, eps: float, weight_decay: float, momentum: float,
           centered: bool) -> RmspropCoef:
        return cls(float(lr), float(alpha), 1.0 - alpha, float(eps), float(weight_decay),
                   float(momentum), bool(centered))


@dataclasses.dataclass(frozen=True)
class NadamCoef(Coefficients):
    """NadamCoef: grad_step = lr (1 - mu_t) / (1 - prod mu_1..t) (for the gradient) and
    avg_step = lr mu_t+1 / (1 - prod mu_1..t+1) (for the momentum)."""

    beta1: float
    beta2: float
    one_minus_beta1: float
    one_minus_beta2: float
    eps: float
    weight_decay: float
    decay: float
    bias2: float
    grad_step: float
    avg_step: float
    decoupled: bool

    @classmethod
    def of(cls, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
           mu: float, mu_next: float, mu_product: float, step: int, decoupled: bool
           ) -> NadamCoef:
        """mu, mu_next: the momentum of steps t and t + 1; mu_product: that of steps 1..t."""
        return cls(float(beta1), float(beta2), 1.0 - beta1, 1.0 - beta2, float(eps),
                   float(weight_decay), 1.0 - lr * weight_decay, 1.0 - beta2**step,
                   lr * (1.0 - mu) / (1.0 - mu_product),
                   lr * mu_next / (1.0 - mu_product * mu_next), bool(decoupled))


@dataclasses.dataclass(frozen=True)
class RadamCoef(Coefficients):
    """RadamCoef: rect is the variance rectification term, used (rectify) once the length of
    the approximated simple moving average rho_t exceeds 5."""

    lr: float
    beta1: float
    beta2: float
    one_minus_beta1: float
    one_minus_beta2: float
    eps: float
    weight_decay: float
    decay: float
    bias1: float
    sqrt_bias2: float
    rect: float
    rectify: bool
    decoupled: bool

    @classmethod
    def of(cls, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
           step: int, decoupled: bool) -> RadamCoef:
        bias1, bias2 = 1.0 - beta1**step, 1.0 - beta2**step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias2
        rectify = rho_t > 5.0
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                ) ** 0.5 if rectify else 1.0
        return cls(float(lr), float(beta1), float(beta2), 1.0 - beta1, 1.0 - beta2, float(eps),
                   float(weight_decay), 1.0 - lr * weight_decay, bias1, bias2**0.5, float(rect),
                   bool(rectify), bool(decoupled))


@dataclasses.dataclass(frozen=True)
class AdamaxCoef(Coefficients):
    """AdamaxCoef: step_size = lr / (1 - beta1^t)."""

    step_size: float
    beta1: float
    one_minus_beta1: float
    beta2: float
    eps: float
    weight_decay: float

    @classmethod
    def of(cls, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
           step: int) -> AdamaxCoef:
        return cls(lr / (1.0 - beta1**step), float(beta1), 1.0 - beta1, float(beta2),
                   float(eps), float(weight_decay))


@dataclasses.dataclass(frozen=True)
class AdadeltaCoef(Coefficients):
    """AdadeltaCoef."""

    lr: float
    rho: float
    one_minus_rho: float
    eps: float
    weight_decay: float

    @classmethod
    def of(cls, lr: float, rho: float, eps: float, weight_decay: float) -> AdadeltaCoef:
        return cls(float(lr), float(rho), 1.0 - rho, float(eps), float(weight_decay))


@dataclasses.dataclass(frozen=True)
class AsgdCoef(Coefficients):
    """AsgdCoef: eta and mu are this step's step size and averaging weight (ASGD's state);
    average is off while mu is 1 (the average is then the parameter itself)."""

    eta: float
    decay: float
    weight_decay: float
    mu: float
    average: bool

    @classmethod
    def of(cls, eta: float, mu: float, lambd: float, weight_decay: float) -> AsgdCoef:
        return cls(float(eta), 1.0 - lambd * eta, float(weight_decay), float(mu), mu != 1)


@dataclasses.dataclass(frozen=True)
class AmsgradCoef(Coefficients):
    """AmsgradCoef: Adam's amsgrad update as PyTorch writes it, step_size = lr / (1 - beta1^t)
    and sqrt_bias2 = sqrt(1 - beta2^t); AdamW's decay 1 - lr weight_decay (decoupled)."""

    beta1: float
    one_minus_beta1: float
    beta2: float
    one_minus_beta2: float
    eps: float
    weight_decay: float
    decay: float
    sqrt_bias2: float
    step_size: float
    decoupled: bool

    @classmethod
    def of(cls, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
           step: int, decoupled: bool) -> AmsgradCoef:
        return cls(float(beta1), 1.0 - beta1, float(beta2), 1.0 - beta2, float(eps),
                   float(weight_decay), 1.0 - lr * weight_decay, (1.0 - beta2**step) ** 0.5,
                   lr / (1.0 - beta1**step), bool(decoupled))


class DeviceCoef:
    """A coefficient record in device memory, one struct per math dtype (float32, float64),
    for the kernels with a `_dev` entry point (every `<opt>_multi` of KERNELS takes it where it
    takes a record): a CUDA graph replays such a launch, and `upload(record)` writes each
    step's values before the replay.

    >>> coef = DeviceCoef(AdamCoef, cupy); coef.upload(AdamCoef.of(...))
    >>> kernels.adam_multi(params, grads, ms, vs, coef)
    """

    KERNELS = ("sgd", "adam", "rmsprop", "nadam", "radam", "adamax", "adadelta", "asgd",
               "amsgrad")

    def __init__(self, record_type: type, xp: Any):
        self.record_type, self.record = record_type, None
        self.buffers = {math: xp.zeros(self.layout(math).itemsize, dtype=np.uint8)
                        for math in (np.dtype(np.float32), np.dtype(np.float64))}

    def __getattr__(self, name: str) -> Any:  # the fields of the record last uploaded
        if name.startswith("_") or self.__dict__.get("record") is None:
            raise AttributeError(name)
        return getattr(self.record, name)

    def layout(self, math: Any) -> np.dtype:
        """The C struct of `record_type` with floats of the math dtype, as NumPy lays it out."""
        return np.dtype([(f.name, np.int32 if f.type in (bool, "bool") else math)
                         for f in dataclasses.fields(self.record_type)], align=True)

    def upload(self, record: Coefficients) -> None:
        """Write `record`'s values into every buffer (a host-to-device copy on a GPU)."""
        self.record = record
        for math, buffer in self.buffers.items():
            upload(buffer, np.array([record.cast(np, math)], dtype=self.layout(math)).view(
                np.uint8))


def upload(buffer: Any, host: np.ndarray) -> None:
    """Write host values into a device buffer of the same dtype and size (CuPy: an
    asynchronous host-to-device copy on the current stream; NumPy: a copy)."""
    if hasattr(buffer, "set"):  # CuPy
        buffer.set(host)
    else:
        buffer[...] = host


# ---------------------------------------------------------------------- the contract
# The parameters that the contract's methods write into (in place). Every other method of
# `Kernels` only reads its arguments and returns new arrays: a jit recording may drop such a
# call when nobody uses its results.
WRITES = {
    "bias_act": ("z",), "sgd_step": ("param", "buf"), "sgd_multi": ("params", "bufs"),
    "adam_step": ("param", "m", "v"), "adam_multi": ("params", "ms", "vs"),
    "rmsprop_step": ("param", "square_avg", "grad_avg", "buf"),
    "rmsprop_multi": ("params", "square_avgs", "grad_avgs", "bufs"),
    "nadam_multi": ("params", "exp_avgs", "exp_avg_sqs"),
    "radam_multi": ("params", "exp_avgs", "exp_avg_sqs"),
    "adamax_multi": ("params", "exp_avgs", "exp_infs"),
    "adadelta_multi": ("params", "square_avgs", "acc_deltas"),
    "asgd_multi": ("params", "axs"),
    "amsgrad_multi": ("params", "exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"),
    "amp_unscale_multi": ("grads", "found_inf"),
    "lstm_cell_forward": ("gates", "h_out", "c_out"), "lstm_cell_backward": ("dc", "dgates"),
    "gru_cell_forward": ("gates", "h_out"), "gru_cell_backward": ("dh", "dxw", "dhw"),
    "rnn_cell_forward": ("h_out",), "rnn_cell_backward": ("dpre",)}


@runtime_checkable
class Kernels(Protocol):
    """The fused kernels of a backend. Arrays are the backend's (`xp`'s); methods that update
    "in place" write into the arrays they are given. `param` of the activations is leaky_relu's
    negative_slope, elu's alpha, softplus's beta."""

    xp: Any

    def act_forward(self, act: str, x: Any, param: float = 0.0) -> Any:
        """act(x), act one of ACTIVATIONS."""

    def act_backward(self, act: str, x: Any, grad: Any, param: float = 0.0) -> Any:
        """grad * act'(x), x the activation's input."""

    def gelu(self, x: Any) -> tuple[Any, Any]:
        """(gelu(x), saved): exact GELU and what gelu_backward takes beside x (NumPy: the
        normal cdf, so that backward evaluates no erf; CUDA: None, its kernel recomputes it)."""

    def gelu_backward(self, x: Any, saved: Any, grad: Any) -> Any:
        """grad * gelu'(x), given gelu's `saved`."""

    def erf(self, x: Any) -> Any:
        """The error function, element-wise."""

    def erfc(self, x: Any) -> Any:
        """1 - erf(x), accurate in the upper tail."""

    def bias_act(self, z: Any, bias: Any, act: str, param: float = 0.0) -> tuple[Any, Any]:
        """(pre, out): pre = z + bias (rows of z, written into z), out = act(pre)."""

    def bias_grad(self, grad: Any) -> Any:
        """Column sums of a 2-D gradient (float16 adds up in float32)."""

    def softmax(self, x: Any, log: bool = False) -> Any:
        """Row-wise softmax (or log-softmax) of a 2-D array."""

    def softmax_backward(self, y: Any, grad: Any, log: bool = False) -> Any:
        """The input gradient of softmax / log_softmax from its output y."""

    def cross_entropy(self, logits: Any, targets: Any, label_smoothing: float = 0.0,
                      ignore_index: int = -100, mean: bool = False) -> tuple[Any, Any, Any]:
        """(loss, dlogits, scale) of softmax + cross-entropy with integer targets."""

    def cross_entropy_backward(self, dlogits: Any, g: Any, scale: Any = None) -> Any:
        """dlogits times the loss gradient g (rows, or the mean's with `scale`)."""

    def attention_softmax(self, scores: Any, q_len: int, scale: float, causal: bool = False,
                          mask: Any = None) -> Any:
        """softmax(scale * scores (+ mask)) per row of (batch * q_len, k_len) scores."""

    def attention_softmax_backward(self, y: Any, grad: Any, scale: float) -> Any:
        """d scores of attention_softmax, given its output y."""

    def im2col(self, x: Any, kernel: tuple, stride: tuple, padding: tuple,
               dilation: tuple) -> Any:
        """(N, C, H, W) -> (N, C*kh*kw, OH*OW): each column one receptive field."""

    def col2im(self, cols: Any, x_shape: tuple, kernel: tuple, stride: tuple, padding: tuple,
               dilation: tuple) -> Any:
        """The adjoint of im2col."""

    def im2col_cn(self, x: Any, kernel: tuple, stride: tuple, padding: tuple,
                  dilation: tuple) -> Any:
        """(N, C, H, W) -> (C*kh*kw, N*OH*OW): the whole batch's columns as one matrix."""

    def col2im_cn(self, cols: Any, x_shape: tuple, kernel: tuple, stride: tuple,
                  padding: tuple, dilation: tuple) -> Any:
        """The adjoint of im2col_cn."""

    def max_pool2d(self, x: Any, kernel: tuple, stride: tuple, padding: tuple,
                   dilation: tuple, out: tuple) -> tuple[Any, Any]:
        """(values, taps) of max pooling to `out`: each window's maximum and its tap."""

    def max_pool2d_backward(self, g: Any, index: Any, x_shape: tuple, kernel: tuple,
                            stride: tuple, padding: tuple, dilation: tuple) -> Any:
        """The input gradient of max_pool2d from its taps (`index`)."""

    def layer_norm(self, x: Any, weight: Any, bias: Any, eps: float) -> tuple[Any, Any, Any]:
        """(y, mean, rstd) of layer norm over the rows of a 2-D array (weight, bias or None);
        weight, bias, mean and rstd in x's math dtype (float32 for float16/bfloat16 x)."""

    def layer_norm_backward(self, x: Any, g: Any, weight: Any, mean: Any,
                            rstd: Any) -> tuple[Any, Any, Any]:
        """(gx, gweight or None, gbias) of layer_norm from its mean and rstd; gx in x's dtype,
        gweight and gbias in its math dtype."""

    def index_add_rows(self, index: Any, values: Any, rows: int) -> Any:
        """(rows, cols) zeros plus values[k] in row index[k] (index 1-D in [0, rows), values
        (len(index), cols)), each row summed in the index's order as NumPy's add.at (float16
        and bfloat16 add up in float32 on CUDA)."""

    def sgd_step(self, param: Any, grad: Any, buf: Any, coef: SgdCoef) -> None:
        """One tensor's SGD update, in place (buf: None without momentum)."""

    def sgd_multi(self, params: list, grads: list, bufs: list | None, coef: SgdCoef) -> None:
        """Every tensor of a group updated in place (one launch per storage dtype on a GPU)."""

    def adam_step(self, param: Any, grad: Any, m: Any, v: Any, coef: AdamCoef) -> None:
        """One tensor's Adam / AdamW update, in place."""

    def adam_multi(self, params: list, grads: list, ms: list, vs: list, coef: AdamCoef) -> None:
        """A group's Adam / AdamW update, in place."""

    def rmsprop_step(self, param: Any, grad: Any, square_avg: Any, grad_avg: Any, buf: Any,
                     coef: RmspropCoef) -> None:
        """One tensor's RMSprop update (grad_avg only when centered, buf with momentum)."""

    def rmsprop_multi(self, params: list, grads: list, square_avgs: list,
                      grad_avgs: list | None, bufs: list | None, coef: RmspropCoef) -> None:
        """A group's RMSprop update, in place."""

    def nadam_multi(self, params: list, grads: list, exp_avgs: list, exp_avg_sqs: list,
                    coef: NadamCoef) -> None:
        """A group's NAdam update, in place."""

    def radam_multi(self, params: list, grads: list, exp_avgs: list, exp_avg_sqs: list,
                    coef: RadamCoef) -> None:
        """A group's RAdam update, in place."""

    def adamax_multi(self, params: list, grads: list, exp_avgs: list, exp_infs: list,
                     coef: AdamaxCoef) -> None:
        """A group's Adamax update, in place."""

    def adadelta_multi(self, params: list, grads: list, square_avgs: list, acc_deltas: list,
                       coef: AdadeltaCoef) -> None:
        """A group's Adadelta update, in place."""

    def asgd_multi(self, params: list, grads: list, axs: list, coef: AsgdCoef) -> None:
        """A group's ASGD update, in place."""

    def amsgrad_multi(self, params: list, grads: list, exp_avgs: list, exp_avg_sqs: list,
                      max_exp_avg_sqs: list, coef: AmsgradCoef) -> None:
        """A group's Adam / AdamW update with amsgrad (the running maximum of exp_avg_sq),
        in place."""

    def amp_unscale_multi(self, grads: list, found_inf: Any, inv_scale: Any) -> None:
        """GradScaler: every gradient times inv_scale[0] in place; found_inf[0] = 1 where one
        was not finite."""

    def philox_uniform(self, n: int, dtype: Any, seed: int, offset: int) -> Any:
        """n uniform values in [0, 1) (float32 or float64) of the Philox4x32-10 stream of
        `seed` from block `offset` on (backend/philox.py; the same bits on every backend)."""

    def lstm_cell_forward(self, gates: Any, xw: Any, c: Any, h_out: Any, c_out: Any) -> None:
        """One LSTM step's gate pass (writes gates, h_out, c_out)."""

    def lstm_cell_backward(self, gates: Any, c: Any, c_out: Any, dout: Any, dh: Any, dc: Any,
                           dgates: Any) -> None:
        """Backward of lstm_cell_forward (writes dc, dgates)."""

    def gru_cell_forward(self, xw: Any, hw: Any, b_hn: Any, h: Any, gates: Any,
                         h_out: Any) -> None:
        """One GRU step's gate pass (writes gates, h_out)."""

    def gru_cell_backward(self, gates: Any, hw: Any, b_hn: Any, h: Any, dout: Any, dh: Any,
                          dxw: Any, dhw: Any) -> None:
        """Backward of gru_cell_forward (writes dh, dxw, dhw)."""

    def rnn_cell_forward(self, xw: Any, hw: Any, h_out: Any, relu: bool) -> None:
        """One Elman RNN step: h_out = tanh(xw + hw) (relu: max(xw + hw, 0))."""

    def rnn_cell_backward(self, h_out: Any, dout: Any, dh: Any, dpre: Any, relu: bool) -> None:
        """Backward of rnn_cell_forward (writes dpre)."""
