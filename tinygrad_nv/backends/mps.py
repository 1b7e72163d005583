"""`torch.backends.mps`: tinygrad_nv has no Apple GPU (Metal) backend."""


def is_available() -> bool:
    """False: there is no MPS device here."""
    return False


def is_built() -> bool:
    """False: tinygrad_nv is not built with MPS."""
    return False
