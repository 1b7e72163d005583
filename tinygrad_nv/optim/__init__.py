"""Optimizers and learning-rate schedules (PyTorch's `torch.optim` names and formulas).

>>> import tinygrad_nv.optim as optim
>>> opt = optim.AdamW(model.parameters(), lr=3e-4)
>>> sched = optim.lr_scheduler.LinearWarmup(opt, warmup_steps=100)
"""

from tinygrad_nv.optim import lr_scheduler
from tinygrad_nv.optim.adaptive import Adadelta, Adamax, NAdam, RAdam
from tinygrad_nv.optim.asgd import ASGD
from tinygrad_nv.optim.lbfgs import LBFGS
from tinygrad_nv.optim.optimizer import Optimizer
from tinygrad_nv.optim.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "NAdam", "RAdam",
           "Adamax", "Adadelta", "ASGD", "LBFGS", "lr_scheduler"]
