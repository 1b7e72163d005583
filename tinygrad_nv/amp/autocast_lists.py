"""What autocast does to each op, one table per device type: op name -> category.

- "low": floating arguments (float32, float16, bfloat16) are cast to the region's dtype;
- "fp32": they are cast to float32 (so the result is float32);
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
tests/amp/test_autocast_lists.py records it again where torch is installed.
"""

from __future__ import annotations

LOW, FP32, UNSAFE = "low", "fp32", "unsafe"

_CUDA_LOW = ("bmm conv1d conv2d conv_transpose2d einsum linear matmul mm mv "
             "scaled_dot_product_attention")
_CUDA_FP32 = (
    "acos arccos asin arcsin cosh exp expm1 log log10 log1p log2 reciprocal rsqrt sinh tan "
    "pow rpow rdiv "
    "softmax log_softmax softmin softplus sum prod cumsum cumprod logsumexp norm normalize "
    "layer_norm group_norm rms_norm cosine_similarity pairwise_distance interpolate "
    "cross_entropy nll_loss "
    "binary_cross_entropy_with_logits mse_loss l1_loss smooth_l1_loss huber_loss kl_div "
    "poisson_nll_loss gaussian_nll_loss cosine_embedding_loss margin_ranking_loss "
    "triplet_margin_loss multi_margin_loss multilabel_soft_margin_loss")

CUDA: dict[str, str] = {
    **dict.fromkeys(_CUDA_LOW.split(), LOW),
    **dict.fromkeys(_CUDA_FP32.split(), FP32),
    "binary_cross_entropy": UNSAFE,
}

# recorded from torch 2.13.0+cpu (python -m tinygrad_nv.amp.op_calls)
CPU: dict[str, str] = {
    **dict.fromkeys("bmm conv1d conv2d conv_transpose2d einsum linear matmul mm "
                    "scaled_dot_product_attention tensordot".split(), LOW),
    **dict.fromkeys("binary_cross_entropy binary_cross_entropy_with_logits "
                    "cosine_embedding_loss cross_entropy huber_loss kl_div l1_loss "
                    "local_response_norm margin_ranking_loss mse_loss multi_margin_loss "
                    "nll_loss poisson_nll_loss prod smooth_l1_loss triplet_margin_loss".split(),
                    FP32),
}

TABLES = {"cpu": CPU, "cuda": CUDA}

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
    """The names of every op that carries the autocast hook (autocast_op)."""
    return set(CPU) | set(CUDA) | set(UNCAST)
