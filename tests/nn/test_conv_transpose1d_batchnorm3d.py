"""nn.ConvTranspose1d and nn.BatchNorm3d against torch's layers with the same weights
(outputs, gradients, running statistics), reprs, state_dict keys and shape checks."""

import numpy as np
import pytest

from tinygrad_nv import Tensor, nn


def _copy_from(ours, theirs):
    for name, value in theirs.state_dict().items():
        getattr(ours, name).data = Tensor(value.numpy().copy())


@pytest.mark.parametrize("kwargs", [{}, dict(stride=2, padding=1, output_padding=1, groups=2),
                                    dict(dilation=2, bias=False)])
def test_conv_transpose1d_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    ours = nn.ConvTranspose1d(4, 6, 3, **kwargs, dtype="float64")
    theirs = torch.nn.ConvTranspose1d(4, 6, 3, **kwargs, dtype=torch.float64)
    assert repr(ours) == repr(theirs)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    _copy_from(ours, theirs)
    a = np.random.default_rng(0).normal(size=(2, 4, 5))
    x, tx = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = ours(x), theirs(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    y.sum().backward(), ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10)


def test_conv_transpose1d_checks_its_arguments():
    with pytest.raises(ValueError, match="ConvTranspose1d: kernel_size must be a positive int"):
        nn.ConvTranspose1d(2, 2, 0)
    with pytest.raises(ValueError, match="ConvTranspose1d: groups=2 must divide in_channels=3"):
        nn.ConvTranspose1d(3, 2, 1, groups=2)
    with pytest.raises(ValueError, match="ConvTranspose1d: padding_mode must be one of"):
        nn.ConvTranspose1d(2, 2, 1, padding_mode="reflect")


def test_batchnorm3d_matches_torch_in_training_and_eval(device):
    torch = pytest.importorskip("torch")
    ours, theirs = nn.BatchNorm3d(3, momentum=0.3), torch.nn.BatchNorm3d(3, momentum=0.3)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    ours.to(device)
    rng = np.random.default_rng(0)
    for _ in range(2):
        a = rng.normal(size=(2, 3, 2, 3, 4)).astype(np.float32)
        x, tx = Tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)
        y, ty = ours(x), theirs(tx)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
        (y * y).sum().backward(), (ty * ty).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-3, atol=1e-4)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(theirs, name).numpy(),
                                   rtol=1e-5)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(Tensor(a, device=device)).numpy(),
                               theirs(torch.tensor(a)).detach().numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"BatchNorm3d: expected a 5-D input, got shape "
                                         r"\(2, 3, 4, 4\)"):
        ours(Tensor.ones(2, 3, 4, 4, device=device))
