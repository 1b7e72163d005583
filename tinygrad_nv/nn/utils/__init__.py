"""nn.utils (PyTorch's `torch.nn.utils`): gradient clipping, parameters as one vector, packed
sequences (`nn.utils.rnn`); one module per topic.

>>> loss.backward(); nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
"""

from tinygrad_nv.nn.utils import rnn
from tinygrad_nv.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_
from tinygrad_nv.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters", "rnn"]
