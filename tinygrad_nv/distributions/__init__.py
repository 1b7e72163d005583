"""torch.distributions: probability distributions built from Tensor ops, so gradients flow
through `rsample` (Normal, Uniform, MultivariateNormal), `log_prob` and `entropy` (policy
gradients: `-(dist.log_prob(action) * advantage).sum().backward()`). Draws come from the
package's random stream (reproducible under tinygrad_nv.manual_seed; not PyTorch's numbers).

>>> from tinygrad_nv.distributions import Categorical, Normal, kl_divergence
"""

from tinygrad_nv.distributions import constraints
from tinygrad_nv.distributions.bernoulli import Bernoulli
from tinygrad_nv.distributions.categorical import Categorical
from tinygrad_nv.distributions.distribution import Distribution
from tinygrad_nv.distributions.kl import kl_divergence, register_kl
from tinygrad_nv.distributions.multivariate_normal import MultivariateNormal
from tinygrad_nv.distributions.normal import Normal
from tinygrad_nv.distributions.uniform import Uniform

__all__ = ["Bernoulli", "Categorical", "Distribution", "MultivariateNormal", "Normal",
           "Uniform", "constraints", "kl_divergence", "register_kl"]
