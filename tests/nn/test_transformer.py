"""TransformerDecoderLayer, TransformerEncoder, TransformerDecoder, Transformer: the formula
from their submodules, causal and padding masks, deep-copied layers, initialisation,
gradcheck, errors; PyTorch's state_dict layout, outputs and gradients where installed."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
from tinygrad_nv import Tensor
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.testing import gradcheck

F64 = dict(dtype=dtypes.float64)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def decoder_layer(**kwargs):
    return nn.TransformerDecoderLayer(8, 2, 12, dropout=0.0, **F64, **kwargs)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_is_its_blocks(norm_first, device):
    layer = decoder_layer(norm_first=norm_first, device=device)
    tgt, memory = Tensor(rand(4, 2, 8), device=device), Tensor(rand(5, 2, 8, seed=1),
                                                               device=device)
    mask = nn.Transformer.generate_square_subsequent_mask(4, device=device, **F64)

    def attend(attn, x, source, m=None):
        return attn(x, source, source, attn_mask=m, need_weights=False)[0]

    def ff(x):
        return layer.linear2(layer.linear1(x).relu())
    x = tgt
    if norm_first:
        x = x + attend(layer.self_attn, layer.norm1(x), layer.norm1(x), mask)
        x = x + attend(layer.multihead_attn, layer.norm2(x), memory)
        expected = x + ff(layer.norm3(x))
    else:
        x = layer.norm1(x + attend(layer.self_attn, x, x, mask))
        x = layer.norm2(x + attend(layer.multihead_attn, x, memory))
        expected = layer.norm3(x + ff(x))
    np.testing.assert_allclose(layer(tgt, memory, tgt_mask=mask).numpy(), expected.numpy(),
                               rtol=1e-12, atol=1e-12)


def test_causal_and_padding_masks_hide_what_they_should():
    model = nn.Transformer(8, 2, 1, 2, 12, dropout=0.0, batch_first=True, **F64)
    src, tgt = rand(2, 5, 8), rand(2, 4, 8, seed=1)
    mask = nn.Transformer.generate_square_subsequent_mask(4, **F64)
    padding = np.zeros((2, 5), dtype=bool)
    padding[1, 3:] = True
    out = model(Tensor(src), Tensor(tgt), tgt_mask=mask, src_key_padding_mask=Tensor(padding),
                memory_key_padding_mask=Tensor(padding)).numpy()
    src2, tgt2 = src.copy(), tgt.copy()
    src2[1, 3:] += 10.0   # padded source positions
    tgt2[:, 2:] += 10.0   # future target positions
    out2 = model(Tensor(src2), Tensor(tgt2), tgt_mask=mask,
                 src_key_padding_mask=Tensor(padding),
                 memory_key_padding_mask=Tensor(padding)).numpy()
    np.testing.assert_allclose(out2[:, :2], out[:, :2], rtol=1e-12, atol=1e-12)
    assert not np.allclose(out2[:, 2:], out[:, 2:])
    # is_causal without a mask means the causal mask
    causal = model.decoder(Tensor(tgt), Tensor(src), tgt_is_causal=True).numpy()
    masked = model.decoder(Tensor(tgt), Tensor(src), tgt_mask=mask).numpy()
    np.testing.assert_allclose(causal, masked, rtol=1e-12, atol=1e-12)


def test_stacks_are_deep_copies_and_transformer_initialisation():
    layer = nn.TransformerEncoderLayer(8, 2, 12)
    encoder = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(8))
    weights = [m.linear1.weight for m in encoder.layers]
    assert len({id(w) for w in weights}) == 3
    assert all(w is not layer.linear1.weight for w in weights)
    np.testing.assert_array_equal(weights[0].numpy(), weights[2].numpy())  # copies of one
    assert sorted(encoder.state_dict())[:2] == ["layers.0.linear1.bias", "layers.0.linear1.weight"]
    model = nn.Transformer(16, 4, 2, 1, 32)
    for name, p in model.named_parameters():
        if p.ndim > 1:  # xavier_uniform_: U(-b, b), b = sqrt(6 / (fan_in + fan_out))
            bound = np.sqrt(6 / (p.shape[0] + p.shape[1]))
            assert np.abs(p.numpy()).max() <= bound, name
            assert np.abs(p.numpy()).max() > bound * 0.8, name
    enc = model.encoder.layers
    assert not np.array_equal(enc[0].linear1.weight.numpy(), enc[1].linear1.weight.numpy())
    assert isinstance(model.encoder.norm, nn.LayerNorm) and model.decoder.num_layers == 1


def test_generate_square_subsequent_mask():
    mask = nn.Transformer.generate_square_subsequent_mask(3, **F64)
    assert mask.dtype == dtypes.float64
    np.testing.assert_array_equal(mask.numpy(), [[0, -np.inf, -np.inf], [0, 0, -np.inf],
                                                 [0, 0, 0]])


def test_train_mode_dropout_and_eval(device):
    model = nn.Transformer(8, 2, 1, 1, 12, dropout=0.5, device=device)
    src, tgt = Tensor.randn(3, 2, 8, device=device), Tensor.randn(2, 2, 8, device=device)
    assert not np.allclose(model(src, tgt).numpy(), model(src, tgt).numpy())
    model.eval()
    np.testing.assert_array_equal(model(src, tgt).numpy(), model(src, tgt).numpy())
    assert model(src[:, 0], tgt[:, 0]).shape == (2, 8)  # unbatched


def test_gradcheck_decoder_layer():
    layer = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, norm_first=True, **F64)
    tgt = Tensor(rand(3, 1, 4), requires_grad=True)
    memory = Tensor(rand(2, 1, 4, seed=1), requires_grad=True)
    assert gradcheck(lambda t, m: layer(t, m, tgt_is_causal=True), [tgt, memory])


def test_bad_input():
    model = nn.Transformer(8, 2, 1, 1, 12)
    with pytest.raises(RuntimeError, match="batch number of src and tgt must be equal"):
        model(Tensor.randn(3, 2, 8), Tensor.randn(3, 4, 8))
    with pytest.raises(RuntimeError, match="feature number of src and tgt must be equal to "
                                           "d_model=8"):
        model(Tensor.randn(3, 2, 8), Tensor.randn(3, 2, 6))
    with pytest.raises(ValueError, match="TransformerDecoderLayer: activation must be"):
        nn.TransformerDecoderLayer(8, 2, activation="tanh")
    with pytest.raises(ValueError, match="TransformerEncoder: num_layers must be a positive"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 0)
    with pytest.raises(TypeError, match="TransformerDecoder: expected a layer Module"):
        nn.TransformerDecoder("layer", 2)
    with pytest.raises(ValueError, match="embed_dim=8 must be divisible by num_heads=3"):
        nn.TransformerDecoderLayer(8, 3)


def masks(batch_first, float_padding):
    padding = np.zeros((3, 5), dtype=bool)
    padding[1, 3:] = True
    tgt_padding = np.zeros((3, 4), dtype=bool)
    tgt_padding[2, 3] = True
    if float_padding:
        padding = np.where(padding, -np.inf, 0.0)
    causal = np.triu(np.full((4, 4), -np.inf), 1)
    memory_mask = np.zeros((4, 5), dtype=bool)
    memory_mask[0, 4] = True
    return dict(tgt_mask=causal, memory_mask=memory_mask, src_key_padding_mask=padding,
                tgt_key_padding_mask=tgt_padding, memory_key_padding_mask=padding)


@pytest.mark.filterwarnings("ignore::UserWarning")  # PyTorch's about nested tensors, masks
@pytest.mark.parametrize("kwargs,float_padding", [
    (dict(), False), (dict(norm_first=True, activation="gelu", batch_first=True), True),
    (dict(bias=False), False)])
def test_transformer_against_torch(kwargs, float_padding):
    torch = pytest.importorskip("torch")
    from .torch_reference import compare_with_torch, load_from_torch
    ours = nn.Transformer(8, 2, 2, 2, 12, dropout=0.0, **F64, **kwargs)
    theirs = torch.nn.Transformer(8, 2, 2, 2, 12, dropout=0.0, dtype=torch.float64, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # PyTorch's names, in order
    load_from_torch(ours, theirs)
    src, tgt = rand(5, 3, 8), rand(4, 3, 8, seed=1)
    if kwargs.get("batch_first"):
        src, tgt = (a.transpose(1, 0, 2).copy() for a in (src, tgt))
    m = masks(kwargs.get("batch_first", False), float_padding)
    compare_with_torch(ours, theirs, src, tgt, None, m["tgt_mask"], m["memory_mask"],
                       m["src_key_padding_mask"], m["tgt_key_padding_mask"],
                       m["memory_key_padding_mask"], rtol=1e-8, atol=1e-10)
    compare_with_torch(ours, theirs, src[:, 0] if not kwargs.get("batch_first") else src[0],
                       tgt[:, 0] if not kwargs.get("batch_first") else tgt[0],
                       rtol=1e-8, atol=1e-10)  # unbatched


def test_decoder_stack_against_torch():
    torch = pytest.importorskip("torch")
    from .torch_reference import compare_with_torch, load_from_torch
    make = dict(d_model=8, nhead=2, dim_feedforward=12, dropout=0.0)
    theirs = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(
        **make, dtype=torch.float64), 2, norm=torch.nn.LayerNorm(8, dtype=torch.float64))
    ours = nn.TransformerDecoder(nn.TransformerDecoderLayer(**make, **F64), 2,
                                 norm=nn.LayerNorm(8, **F64))
    load_from_torch(ours, theirs)
    compare_with_torch(ours, theirs, rand(4, 2, 8), rand(3, 2, 8, seed=1),
                       np.triu(np.ones((4, 4), dtype=bool), 1), tgt_is_causal=True,
                       rtol=1e-8, atol=1e-10)
