"""Datasets, samplers and loaders (PyTorch's `torch.utils.data` names).

>>> import tinygrad_nv.data as data
>>> loader = data.DataLoader(data.TensorDataset(x, y), batch_size=32, shuffle=True, seed=0,
...                          num_workers=2)
"""

from tinygrad_nv.data.collate import default_collate, default_convert
from tinygrad_nv.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from tinygrad_nv.data.distributed import DistributedSampler
from tinygrad_nv.data.loader import DataLoader
from tinygrad_nv.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from tinygrad_nv.data.worker import get_worker_info

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
           "ChainDataset", "Subset", "random_split", "DataLoader", "default_collate",
           "default_convert", "get_worker_info", "Sampler", "SequentialSampler",
           "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
           "DistributedSampler"]
