"""Stateless layers, activations and losses: PyTorch's `torch.nn.functional` names and
semantics. Every name is bound from the `EXPORTS.functional` table of the op kind that
implements it (ops/activation.py, conv.py, pool.py, loss.py, ...): read the op there.

>>> import tinygrad_nv.nn.functional as F
>>> loss = F.cross_entropy(logits, labels)        # logits (N, C) float, labels (N,) int
"""

from __future__ import annotations

from tinygrad_nv.nn.checks import check_functions
from tinygrad_nv.ops import (
    activation,
    attention,
    conv,
    ctc,
    distance,
    distribution_loss,
    index,
    loss,
    margin_loss,
    matrix,
    normalization,
    pool,
    rearrange,
)
from tinygrad_nv.ops import dropout as dropout_ops
from tinygrad_nv.ops import fold as fold_ops
from tinygrad_nv.ops import nn as nn_ops

# ops/<kind>.py modules whose EXPORTS.functional are nn.functional names
_KINDS: tuple = (activation, matrix, conv, pool, fold_ops, attention, nn_ops, normalization,
                 dropout_ops, index, rearrange, distance, loss, margin_loss, distribution_loss,
                 ctc)
for _kind in _KINDS:
    globals().update(_kind.EXPORTS.functional)
check_functions(globals())  # a non-Tensor input: TypeError naming the function (nn/checks.py)
