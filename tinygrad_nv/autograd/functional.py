"""`torch.autograd.functional`: jacobian, hessian, vjp, jvp, hvp and vhp are
`tinygrad_nv.func`'s (built on this package's engine); this module gives PyTorch's name."""

from tinygrad_nv.func import hessian, hvp, jacobian, jvp, vhp, vjp

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]
