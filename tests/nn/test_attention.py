"""MultiheadAttention and TransformerEncoderLayer against NumPy written here (the explicit
softmax(QK^T / sqrt(d)) V per head), PyTorch's parameter names and mask conventions,
gradients in float64, train vs eval, and clear errors."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
from tinygrad_nv import Tensor
from tinygrad_nv.testing import gradcheck


def softmax(a):
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def mha_ref(p, q, k, v, heads, additive=None):
    """Sequence-first (L, N, E) inputs; additive (N, heads, L, S) or broadcastable.
    Returns (output (L, N, E), per-head weights (N, heads, L, S))."""
    e = q.shape[-1]
    w_q, w_k, w_v = np.split(p["in_proj_weight"], 3) if "in_proj_weight" in p else \
        (p["q_proj_weight"], p["k_proj_weight"], p["v_proj_weight"])
    b_q, b_k, b_v = np.split(p.get("in_proj_bias", np.zeros(3 * e)), 3)

    def split(x, w, b):  # (len, N, E) -> (N, heads, len, E / heads)
        y = x @ w.T + b
        return y.reshape(*y.shape[:2], heads, -1).transpose(1, 2, 0, 3)

    qh, kh, vh = split(q, w_q, b_q), split(k, w_k, b_k), split(v, w_v, b_v)
    scores = qh @ kh.transpose(0, 1, 3, 2) / np.sqrt(e // heads)
    weights = softmax(scores + (0 if additive is None else additive))
    out = (weights @ vh).transpose(2, 0, 1, 3).reshape(q.shape[0], q.shape[1], e)
    return out @ p["out_proj.weight"].T + p.get("out_proj.bias", 0.0), weights


def layer_norm(x, w, b, eps=1e-5):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps) * w + b


def encoder_ref(p, x, heads, norm_first, additive=None):
    def attention(a):
        sub = {k[len("self_attn."):]: v for k, v in p.items() if k.startswith("self_attn.")}
        return mha_ref(sub, a, a, a, heads, additive)[0]

    def feed_forward(a):
        hidden = np.maximum(a @ p["linear1.weight"].T + p["linear1.bias"], 0)
        return hidden @ p["linear2.weight"].T + p["linear2.bias"]

    def norm(a, i):
        return layer_norm(a, p[f"norm{i}.weight"], p[f"norm{i}.bias"])

    if norm_first:
        x = x + attention(norm(x, 1))
        return x + feed_forward(norm(x, 2))
    x = norm(x + attention(x), 1)
    return norm(x + feed_forward(x), 2)


def numpy_params(module):
    return {k: v.numpy() for k, v in module.state_dict().items()}


def rand(*shape, seed=0, device=None):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), device=device)


# ---------------------------------------------------------------------- MultiheadAttention
@pytest.mark.parametrize("bias", [True, False])
def test_mha_matches_numpy(bias, device):
    mha = nn.MultiheadAttention(8, 2, bias=bias).double().to(device)
    q, k = rand(4, 3, 8, seed=1, device=device), rand(6, 3, 8, seed=2, device=device)
    out, weights = mha(q, k, k)
    expected, per_head = mha_ref(numpy_params(mha), q.numpy(), k.numpy(), k.numpy(), 2)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights.numpy(), per_head.mean(1), rtol=1e-10, atol=1e-12)
    _, separate = mha(q, k, k, average_attn_weights=False)
    np.testing.assert_allclose(separate.numpy(), per_head, rtol=1e-10, atol=1e-12)
    assert mha(q, k, k, need_weights=False)[1] is None


def test_mha_masks_true_means_not_allowed(device):
    mha = nn.MultiheadAttention(4, 2).double().to(device)
    q, k = rand(3, 2, 4, seed=1, device=device), rand(5, 2, 4, seed=2, device=device)
    rng = np.random.default_rng(3)
    blocked = rng.random((3, 5)) > 0.6
    padding = rng.random((2, 5)) > 0.6
    blocked[:, 0] = padding[:, 0] = False  # every query keeps a key
    float_mask = rng.standard_normal((2 * 2, 3, 5))
    additive = (np.where(blocked, -np.inf, 0.0)[None, None]
                + np.where(padding, -np.inf, 0.0)[:, None, None] + float_mask.reshape(2, 2, 3, 5))
    out, weights = mha(q, k, k, key_padding_mask=Tensor(padding, device=device),
                       attn_mask=Tensor(np.where(blocked, -np.inf, 0.0) + float_mask,
                                        device=device))
    expected, per_head = mha_ref(numpy_params(mha), q.numpy(), k.numpy(), k.numpy(), 2, additive)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights.numpy(), per_head.mean(1), rtol=1e-10, atol=1e-12)
    out_bool, _ = mha(q, k, k, key_padding_mask=Tensor(padding, device=device),
                      attn_mask=Tensor(blocked, device=device))
    expected_bool, _ = mha_ref(numpy_params(mha), q.numpy(), k.numpy(), k.numpy(), 2,
                               additive - float_mask.reshape(2, 2, 3, 5))
    np.testing.assert_allclose(out_bool.numpy(), expected_bool, rtol=1e-10, atol=1e-12)


def test_mha_batch_first_unbatched_and_causal(device):
    mha = nn.MultiheadAttention(4, 1, batch_first=True).double().to(device)
    x = rand(2, 5, 4, seed=1, device=device)
    out, _ = mha(x, x, x)
    seq_first = numpy_params(mha)
    expected, _ = mha_ref(seq_first, *(x.numpy().transpose(1, 0, 2),) * 3, 1)
    np.testing.assert_allclose(out.numpy(), expected.transpose(1, 0, 2), rtol=1e-10)
    single, single_weights = mha(x[0], x[0], x[0])
    np.testing.assert_allclose(single.numpy(), out.numpy()[0], rtol=1e-10)
    assert single_weights.shape == (5, 5)
    causal, weights = mha(x, x, x, is_causal=True)
    future = np.triu(np.full((5, 5), -np.inf), 1)
    expected, _ = mha_ref(seq_first, *(x.numpy().transpose(1, 0, 2),) * 3, 1, future)
    np.testing.assert_allclose(causal.numpy(), expected.transpose(1, 0, 2), rtol=1e-10)
    np.testing.assert_array_equal(np.triu(weights.numpy()[0], 1), 0.0)


def test_mha_parameters_and_gradients(device):
    mha = nn.MultiheadAttention(6, 3)
    assert {k: v.shape for k, v in mha.state_dict().items()} == {
        "in_proj_weight": (18, 6), "in_proj_bias": (18,), "out_proj.weight": (6, 6),
        "out_proj.bias": (6,)}
    np.testing.assert_array_equal(mha.in_proj_bias.numpy(), 0.0)
    np.testing.assert_array_equal(mha.out_proj.bias.numpy(), 0.0)
    mha = mha.double().to(device)
    q, k = rand(2, 2, 6, seed=1, device=device), rand(3, 2, 6, seed=2, device=device)
    gradcheck(lambda a, b: mha(a, b, b)[0], [q, k])


def test_mha_keys_and_values_of_other_widths(device):
    mha = nn.MultiheadAttention(6, 2, kdim=4, vdim=3)
    assert {k: v.shape for k, v in mha.state_dict().items()} == {
        "q_proj_weight": (6, 6), "k_proj_weight": (6, 4), "v_proj_weight": (6, 3),
        "in_proj_bias": (18,), "out_proj.weight": (6, 6), "out_proj.bias": (6,)}
    mha = mha.double().to(device)
    q, k, v = (rand(2, 3, w, seed=w, device=device) for w in (6, 4, 3))
    out, weights = mha(q, k, v)
    expected, per_head = mha_ref(numpy_params(mha), q.numpy(), k.numpy(), v.numpy(), 2)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=r"value must be \(length, batch, 3\)"):
        mha(q, k, k)


def test_mha_dropout_only_in_training(device):
    mha = nn.MultiheadAttention(4, 2, dropout=0.5).to(device)
    x = rand(6, 2, 4, seed=1, device=device).float()
    mha.eval()
    first, _ = mha(x, x, x)
    np.testing.assert_array_equal(mha(x, x, x)[0].numpy(), first.numpy())
    mha.train()
    assert not np.allclose(mha(x, x, x)[0].numpy(), first.numpy())


# ---------------------------------------------------------------------- encoder layer
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_matches_numpy(norm_first, device):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0,
                                       norm_first=norm_first).double().to(device)
    x = rand(5, 2, 8, seed=1, device=device)
    np.testing.assert_allclose(layer(x).numpy(), encoder_ref(numpy_params(layer), x.numpy(), 2,
                                                             norm_first), rtol=1e-9, atol=1e-10)
    future = np.triu(np.full((5, 5), -np.inf), 1)
    np.testing.assert_allclose(layer(x, is_causal=True).numpy(),
                               encoder_ref(numpy_params(layer), x.numpy(), 2, norm_first, future),
                               rtol=1e-9, atol=1e-10)
    padding = np.zeros((2, 5), dtype=bool)
    padding[1, 3:] = True
    np.testing.assert_allclose(
        layer(x, src_key_padding_mask=Tensor(padding, device=device)).numpy(),
        encoder_ref(numpy_params(layer), x.numpy(), 2, norm_first,
                    np.where(padding, -np.inf, 0.0)[:, None, None]), rtol=1e-9, atol=1e-10)


def test_encoder_layer_names_activation_and_train_eval(device):
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, activation="gelu",
                                       batch_first=True)
    assert sorted(layer.state_dict()) == sorted(
        ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
         "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
         "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"])
    assert [name for name, _ in layer.named_children()][:4] == ["self_attn", "linear1",
                                                                "dropout", "linear2"]
    layer = layer.to(device)
    x = rand(2, 3, 4, seed=1, device=device).float()
    layer.eval()
    first = layer(x)
    np.testing.assert_array_equal(layer(x).numpy(), first.numpy())
    layer.train()
    assert not np.allclose(layer(x).numpy(), first.numpy())  # dropout=0.1 by default
    custom = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation=lambda t: t.tanh(),
                                        batch_first=True).to(device)
    assert custom(x).shape == (2, 3, 4)


BAD = [
    (lambda: nn.MultiheadAttention(6, 4), ValueError, "embed_dim=6 must be divisible"),
    (lambda: nn.MultiheadAttention(4, 2)(*(Tensor(np.ones((3, 2, 5))),) * 3), ValueError,
     r"query must be \(length, batch, 4\)"),
    (lambda: nn.MultiheadAttention(4, 2)(Tensor(np.ones((3, 2, 4))), Tensor(np.ones((5, 2, 4))),
                                         Tensor(np.ones((6, 2, 4)))), ValueError,
     r"must have the same length, and the batch of query \(3, 2, 4\) \(sequence first\)"),
    (lambda: nn.MultiheadAttention(4, 2)(*(Tensor(np.ones((3, 2, 4))),) * 3,
                                         attn_mask=Tensor(np.ones((3, 4), dtype=bool))),
     ValueError, r"attn_mask must have shape \(3, 3\) or \(4, 3, 3\)"),
    (lambda: nn.MultiheadAttention(4, 2)(*(Tensor(np.ones((3, 2, 4))),) * 3,
                                         key_padding_mask=Tensor(np.ones((3, 3), dtype=bool))),
     ValueError, r"key_padding_mask must have shape \(2, 3\)"),
    (lambda: nn.TransformerEncoderLayer(4, 2, activation="swish"), ValueError,
     "'relu', 'gelu' or a callable"),
]


@pytest.mark.parametrize("fn,exc,pattern", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_clearly(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()
