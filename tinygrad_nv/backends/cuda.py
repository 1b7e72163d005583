"""`torch.backends.cuda.matmul` flags as plain attributes. CuPy's cuBLAS calls compute float32
products in full float32 (CuPy enables TF32 only with CUPY_TF32=1 in the environment), so
setting them changes nothing."""

from types import SimpleNamespace

matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                         allow_bf16_reduced_precision_reduction=True)
