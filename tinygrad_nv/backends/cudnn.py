"""`torch.backends.cudnn`'s flags as plain attributes. tinygrad_nv does not use cuDNN
(convolutions are im2col + cuBLAS and our own kernels), so they change nothing;
`is_available()` says so."""

enabled = True  # PyTorch's defaults
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: tinygrad_nv never calls cuDNN."""
    return False


def version() -> None:
    """None: no cuDNN is loaded."""
    return None
