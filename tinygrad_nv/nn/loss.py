"""Loss modules: PyTorch's constructor arguments around the `nn.functional` losses. A class
weight (and BCEWithLogitsLoss' pos_weight) is a buffer, so `.to(device)` moves it."""

from __future__ import annotations

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.nn import losses
from tinygrad_nv.nn.module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits (N, C, ...) with class indices or probabilities."""

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return losses.cross_entropy(logits, target, self.weight, self.ignore_index,
                                    self.reduction, self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (N, C, ...) at class indices."""

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100,
                 reduction: str = "mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, log_probs: Tensor, target: Tensor) -> Tensor:
        return losses.nll_loss(log_probs, target, self.weight, self.ignore_index,
                               self.reduction)


class MSELoss(_Loss):
    """Mean squared error."""

    def forward(self, x: Tensor, target: Tensor) -> Tensor:
        return losses.mse_loss(x, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error."""

    def forward(self, x: Tensor, target: Tensor) -> Tensor:
        return losses.l1_loss(x, target, self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities."""

    def forward(self, probs: Tensor, target: Tensor) -> Tensor:
        return losses.binary_cross_entropy(probs, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid + binary cross-entropy in one stable expression."""

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean",
                 pos_weight: Tensor | None = None):
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return losses.binary_cross_entropy_with_logits(logits, target, self.weight,
                                                       self.reduction, self.pos_weight)


class SmoothL1Loss(_Loss):
    """Quadratic below beta, linear above."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, x: Tensor, target: Tensor) -> Tensor:
        return losses.smooth_l1_loss(x, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """Quadratic up to delta, linear (slope delta) above."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, x: Tensor, target: Tensor) -> Tensor:
        return losses.huber_loss(x, target, self.reduction, self.delta)


class KLDivLoss(_Loss):
    """KL divergence of a target distribution from log-probabilities."""

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        return losses.kl_div(log_input, target, self.reduction, self.log_target)
