"""Datasets and loaders (PyTorch's `torch.utils.data` names).

>>> import tinygrad_nv.data as data
>>> loader = data.DataLoader(data.TensorDataset(x, y), batch_size=32, shuffle=True, seed=0)
"""

from tinygrad_nv.data.dataset import Dataset, Subset, TensorDataset, random_split
from tinygrad_nv.data.distributed import DistributedSampler
from tinygrad_nv.data.loader import DataLoader, default_collate
from tinygrad_nv.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader",
           "default_collate", "Sampler", "SequentialSampler", "RandomSampler", "BatchSampler",
           "DistributedSampler"]
