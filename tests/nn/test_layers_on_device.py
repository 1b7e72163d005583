"""The layers of issue 9 on an instrumented `emu:1` device (tinygrad_nv.testing.instrumented):
every array call runs with that device current, and forward + backward never wait for it."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor
from tinygrad_nv.testing.instrumented import instrumented

pytestmark = pytest.mark.emu
DEV = "emu:1"


def image(*shape):
    return Tensor.randn(*shape, device=DEV, requires_grad=True)


def labels(*values):
    return Tensor(np.array(values), device=DEV)


def floats(*shape):
    return Tensor.rand(*shape, device=DEV)


def causal_mask(q_len, k_len):
    return Tensor(np.tril(np.ones((q_len, k_len), dtype=bool)), device=DEV)


LAYERS = {
    "conv1d": lambda: F.conv1d(image(1, 2, 7), image(3, 2, 3), padding="same"),
    "conv2d": lambda: F.conv2d(image(1, 2, 5, 5), image(3, 2, 3, 3), image(3), stride=2,
                               padding=1),
    "conv_transpose2d": lambda: F.conv_transpose2d(image(1, 2, 3, 3), image(2, 2, 3, 3),
                                                   stride=2, output_padding=1),
    "max_pool2d": lambda: F.max_pool2d(image(1, 2, 5, 5), 2, ceil_mode=True,
                                       return_indices=True)[0],
    "avg_pool2d": lambda: F.avg_pool2d(image(1, 2, 5, 5), 3, 2, 1, ceil_mode=True,
                                       count_include_pad=False),
    "avg_pool2d_count_pad": lambda: F.avg_pool2d(image(1, 2, 5, 5), 3, 2, 1),
    "adaptive_avg_pool2d": lambda: F.adaptive_avg_pool2d(image(1, 2, 5, 5), 3),
    "interpolate_bilinear": lambda: F.interpolate(image(1, 2, 3, 3), scale_factor=2,
                                                  mode="bilinear", align_corners=True),
    "interpolate_nearest": lambda: F.interpolate(image(1, 2, 3), size=5),
    "layer_norm": lambda: F.layer_norm(image(3, 4), 4, image(4), image(4)),
    "batch_norm_training": lambda: F.batch_norm(image(3, 4, 2), floats(4), floats(4) + 1,
                                                image(4), image(4), training=True),
    "batch_norm_eval": lambda: F.batch_norm(image(3, 4), floats(4), floats(4) + 1, image(4)),
    "group_norm": lambda: F.group_norm(image(2, 4, 3), 2, image(4), image(4)),
    "normalize": lambda: F.normalize(image(3, 4)),
    "dropout": lambda: F.dropout(image(3, 4), 0.5),
    "embedding": lambda: F.embedding(labels(0, 2, 7), image(5, 3), padding_idx=0),
    "attention_bool_mask_dropout": lambda: F.scaled_dot_product_attention(
        image(2, 3, 4), image(2, 5, 4), image(2, 5, 4), attn_mask=causal_mask(3, 5),
        dropout_p=0.1),
    "attention_additive_mask": lambda: F.scaled_dot_product_attention(
        image(2, 3, 4), image(2, 5, 4), image(2, 5, 4), attn_mask=image(2, 3, 5)),
    "attention_causal": lambda: F.scaled_dot_product_attention(
        image(2, 3, 4), image(2, 3, 4), image(2, 3, 4), is_causal=True, scale=0.3),
}
# every loss and every option that changes its code path
LOSSES = {
    "cross_entropy": lambda: F.cross_entropy(image(3, 4), labels(0, 3, 1)),
    "cross_entropy_smoothing_ignore_sum": lambda: F.cross_entropy(
        image(3, 4), labels(0, -100, 9), label_smoothing=0.1, reduction="sum"),
    "cross_entropy_3d_none": lambda: F.cross_entropy(
        image(2, 4, 3), Tensor(np.array([[0, 1, 3], [2, 2, 5]]), device=DEV), ignore_index=5,
        reduction="none"),
    "cross_entropy_weight": lambda: F.cross_entropy(image(3, 4), labels(0, 9, 1),
                                                    weight=floats(4)),
    "cross_entropy_weight_smoothing_ignore": lambda: F.cross_entropy(
        image(3, 4), labels(0, 1, 2), weight=floats(4), ignore_index=1, label_smoothing=0.2),
    "cross_entropy_probabilities": lambda: F.cross_entropy(image(3, 4), image(3, 4).softmax()),
    "cross_entropy_probabilities_weight_smoothing": lambda: F.cross_entropy(
        image(3, 4, 2), image(3, 4, 2).softmax(1), weight=floats(4), label_smoothing=0.1),
    "nll_loss": lambda: F.nll_loss(image(3, 4).log_softmax(), labels(0, 3, 1)),
    "nll_loss_weight_ignore": lambda: F.nll_loss(image(3, 4).log_softmax(), labels(0, 3, 7),
                                                 weight=floats(4), ignore_index=3),
    "binary_cross_entropy": lambda: F.binary_cross_entropy(image(3).sigmoid(), image(3).abs()),
    "binary_cross_entropy_weight_none": lambda: F.binary_cross_entropy(
        image(3).sigmoid(), floats(3), weight=floats(3), reduction="none"),
    "binary_cross_entropy_with_logits": lambda: F.binary_cross_entropy_with_logits(
        image(3, 2), floats(3, 2), weight=floats(2), pos_weight=floats(2)),
    "mse_l1": lambda: F.mse_loss(image(3), floats(3)) + F.l1_loss(image(3), floats(3), "sum"),
    "smooth_l1_huber": lambda: F.smooth_l1_loss(image(3), image(3), beta=0.5)
    + F.huber_loss(image(3), image(3), delta=2.0),
    "kl_div": lambda: F.kl_div(image(3), image(3).softmax(), "batchmean")
    + F.kl_div(image(3), image(3).log_softmax(), log_target=True),
}
CASES = {**LAYERS, **LOSSES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_functional_runs_on_the_device_without_syncs(name):
    with instrumented(DEV) as probe:
        out = CASES[name]()
        out.sum().backward()
    assert str(out.device) == DEV and probe.launches > 0
    assert probe.misplaced == []
    assert probe.syncs == []


def multihead_attention():
    model = nn.MultiheadAttention(4, 2, batch_first=True).to(DEV)
    x, pad = Tensor.randn(2, 5, 4, device=DEV), Tensor(np.eye(2, 5, 3, dtype=bool), device=DEV)
    out, weights = model(x, x, x, key_padding_mask=pad, attn_mask=~causal_mask(5, 5))
    return out.sum() + weights.sum()


def module(make, *shape):
    """Forward of a module made on the CPU and moved to the device."""
    def run():
        model = make().to(DEV)
        out = model(Tensor.randn(*shape, device=DEV))
        return (out[0] if isinstance(out, tuple) else out).sum()
    return run


MODULES = {
    "rnn": module(lambda: nn.RNN(3, 4, num_layers=2, nonlinearity="relu"), 5, 2, 3),
    "lstm": module(lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True, dropout=0.5),
                   5, 2, 3),
    "gru": module(lambda: nn.GRU(3, 4, batch_first=True, bidirectional=True), 2, 5, 3),
    "multihead_attention": multihead_attention,
    "encoder_layer": module(lambda: nn.TransformerEncoderLayer(4, 2, 8, batch_first=True),
                            2, 5, 4),
    "encoder_layer_norm_first_gelu": module(lambda: nn.TransformerEncoderLayer(
        4, 2, 8, activation="gelu", norm_first=True), 5, 2, 4),
    "embedding": lambda: nn.Embedding(5, 3, padding_idx=1).to(DEV)(labels(0, 1, 4)).sum(),
    "conv_transpose": module(lambda: nn.Sequential(
        nn.ConvTranspose2d(5, 2, 3), nn.GroupNorm(1, 2), nn.Hardswish()), 2, 5, 3, 3),
    "conv_pool_upsample": module(lambda: nn.Sequential(
        nn.Conv2d(2, 3, 3), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Upsample(
            scale_factor=2), nn.Flatten(), nn.Dropout(0.2), nn.Linear(12, 2)), 2, 2, 6, 6),
    "batch_norm": module(lambda: nn.BatchNorm2d(3), 2, 3, 2, 2),
    "batch_norm_cumulative_average": module(lambda: nn.BatchNorm1d(3, momentum=None), 4, 3),
}


@pytest.mark.parametrize("run", MODULES.values(), ids=MODULES.keys())
def test_modules_run_on_the_device_without_syncs(run):
    with instrumented(DEV) as probe:
        run().backward()
    assert probe.launches > 0
    assert probe.misplaced == []
    assert probe.syncs == []
