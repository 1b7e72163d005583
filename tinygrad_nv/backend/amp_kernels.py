"""GradScaler's kernel entry point, shared by both kernel objects: the NumPy rule here is the
reference of kernels/amp.cu, which `CudaKernels.amp_unscale_multi` launches instead.

>>> kernels.amp_unscale_multi(grads, found_inf, inv_scale)   # found_inf, inv_scale: (1,) f32
"""

from __future__ import annotations


class AmpKernels:
    """amp_unscale_multi(grads, found_inf, inv_scale): every array of `grads` (one device and
    dtype) multiplied in place by inv_scale[0]; found_inf[0] set to 1 where any element was
    not finite before. Math in float32 (float64 for float64 gradients)."""

    def amp_unscale_multi(self, grads: list, found_inf, inv_scale) -> None:
        xp = self.xp
        for g in grads:
            math = xp.float64 if g.dtype == xp.float64 else xp.float32
            values = g.astype(math, copy=False)
            if not xp.isfinite(values).all():
                found_inf[...] = 1.0
            g[...] = values * inv_scale.astype(math)
