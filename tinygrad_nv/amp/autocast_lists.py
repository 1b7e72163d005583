"""What autocast does to each op, one table per device type: op name -> category.

- "low": floating arguments (float32, float16, bfloat16) are cast to the region's dtype;
- "fp32": they are cast to float32 (so the result is float32);
- "fp16": they are cast to float16, whatever the region's dtype;
- "low+<argument>": they are cast to the promotion of the region's dtype and that argument's
  dtype (a recurrent op whose gates update that state elementwise: PyTorch composes it from
  low-precision products and elementwise ops that promote with the state);
- "unsafe": the op raises under autocast, as PyTorch's;
- an op not in a table runs in its inputs' dtype, mixed inputs by promotion (our ops promote
  where PyTorch's "promote" list is needed: atan2, bilinear, dot, scatter_add, tensordot).
float64 is never cast. A listed op runs with autocast off inside, as PyTorch's autocast
dispatch (its inner ops are not cast again).

CUDA (and emu, which runs the CUDA backend): PyTorch's documented lists (the "Autocast Op
Reference" of torch.amp), restricted to the ops we have; composites that PyTorch does not
register but whose parts it casts (cross_entropy = log_softmax + nll_loss, softmin,
normalize, pairwise_distance, gaussian_nll_loss, multilabel_soft_margin_loss) get the
category their parts give.

CPU: recorded from PyTorch 2.13's `torch.autocast("cpu", dtype=...)` for every op we have by
`python -m tinygrad_nv.amp.op_calls` (identical for bfloat16 and float16); the test
tests/amp/test_autocast.py records it again where torch is installed.
"""

from __future__ import annotations

LOW, FP32, FP16, UNSAFE = "low", "fp32", "fp16", "unsafe"
LOW_WITH = "low+"  # LOW_WITH + argument name: low, promoted with that argument's dtype

_CUDA_LOW = ("addbmm addmm addmv addr baddbmm bmm conv1d conv2d conv_transpose2d einsum linear "
             "matmul mm mv scaled_dot_product_attention")
_CUDA_FP32 = (
    "acos arccos asin arcsin cosh erfinv exp expm1 log log10 log1p log2 reciprocal rsqrt sinh tan "
    "pow rpow rdiv "
    "softmax log_softmax softmin softplus sum prod cumsum cumprod logsumexp norm normalize "
    "layer_norm group_norm rms_norm cosine_similarity pairwise_distance dist renorm "
    "interpolate "
    "cross_entropy nll_loss "
    "binary_cross_entropy_with_logits mse_loss l1_loss smooth_l1_loss huber_loss kl_div "
    "poisson_nll_loss gaussian_nll_loss cosine_embedding_loss margin_ranking_loss "
    "triplet_margin_loss multi_margin_loss multilabel_soft_margin_loss hinge_embedding_loss "
    "soft_margin_loss multilabel_margin_loss")

CUDA: dict[str, str] = {
    **dict.fromkeys(_CUDA_LOW.split(), LOW),
    **dict.fromkeys(_CUDA_FP32.split(), FP32),
    "binary_cross_entropy": UNSAFE,
}

# recorded from torch 2.13.0+cpu (python -m tinygrad_nv.amp.op_calls)
CPU: dict[str, str] = {
    **dict.fromkeys("addbmm addmm baddbmm bmm conv1d conv2d conv_transpose2d einsum inner "
                    "linear matmul mm scaled_dot_product_attention tensordot".split(), LOW),
    **dict.fromkeys("binary_cross_entropy binary_cross_entropy_with_logits "
                    "cosine_embedding_loss cross_entropy hinge_embedding_loss huber_loss "
                    "kl_div l1_loss local_response_norm margin_ranking_loss mse_loss "
                    "multi_margin_loss multilabel_margin_loss nanquantile "
                    "nll_loss poisson_nll_loss prod quantile smooth_l1_loss soft_margin_loss trace "
                    "triplet_margin_loss".split(),
                    FP32),
}

# The recurrent layers and cells (ops/recurrent.py), one op per kind, named as PyTorch's ATen
# ops; lstm_composite is an LSTM that PyTorch's CPU composes of cells: over a PackedSequence,
# or of float16 input with autograd on (mkldnn_rnn_layer takes float32 and bfloat16; float16
# only without autograd on CPUs with float16 support: not modelled). Inputs in float64 raise
# in the modules, as in PyTorch (its products get float64 and low-precision operands).
# CUDA: the cells are in the documented float16 list (GRUCell, LSTMCell, RNNCell;
# autocast_mode.cpp registers lstm_cell, gru_cell, rnn_tanh_cell and rnn_relu_cell as
# lower_precision_fp); the layers reach cuDNN's _cudnn_rnn, whose autocast wrapper
# (aten/src/ATen/cudnn/AutocastRNN.cpp) casts input, states and weights to float16 (kHalf),
# also in a bfloat16 region.
CUDA_RECURRENT: dict[str, str] = {
    **dict.fromkeys("gru_cell lstm_cell rnn_relu_cell rnn_tanh_cell".split(), LOW),
    **dict.fromkeys("gru lstm lstm_composite rnn_relu rnn_tanh".split(), FP16),
}
# CPU, measured with torch 2.13.0+cpu (tests/amp/test_autocast.py measures it again):
# lstm runs mkldnn_rnn_layer, in the CPU lower_precision_fp list; the others are composites of
# linear (low) and elementwise ops, so the Elman ones, whose state enters only through a
# product, are low, and GRU's h or LSTM's c promotes the gates (float32 state: float32 result).
# PyTorch's float16 LSTM on float32 input fails in oneDNN on CPUs without float16 support;
# ours gives float16, as lower_precision_fp says.
CPU_RECURRENT: dict[str, str] = {
    **dict.fromkeys("lstm rnn_relu rnn_relu_cell rnn_tanh rnn_tanh_cell".split(), LOW),
    "gru": LOW_WITH + "h0", "gru_cell": LOW_WITH + "h0",
    "lstm_cell": LOW_WITH + "c0", "lstm_composite": LOW_WITH + "c0",
}

TABLES = {"cpu": {**CPU, **CPU_RECURRENT}, "cuda": {**CUDA, **CUDA_RECURRENT}}

# ops that PyTorch runs as one kernel (or its "promote" ops) but ours compose from listed ops:
# wrapped too, so that autocast does not reach inside them
UNCAST = ("bilinear", "dot", "tensordot", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
          "avg_pool1d", "avg_pool2d", "logsigmoid", "mish")

UNSAFE_MESSAGE = (
    "{op} and its module are unsafe to autocast (the result of a float16 sigmoid may be "
    "rounded to 0 or 1 before the logarithm). Many models use a sigmoid layer right before "
    "the binary cross entropy layer. In this case, combine the two layers using "
    "binary_cross_entropy_with_logits or BCEWithLogitsLoss, which are safe to autocast.")


def wrapped_ops() -> set[str]:
    """The names of every functional op that carries the autocast hook (autocast_op); the
    recurrent ops (*_RECURRENT) carry it too, reached through the nn modules."""
    return set(CPU) | set(CUDA) | set(UNCAST)
