"""nn.utils (PyTorch's `torch.nn.utils`): gradient clipping; one module per topic.

>>> loss.backward(); nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
"""

from tinygrad_nv.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
