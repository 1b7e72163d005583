"""The counter-based random stream (kernels/random.cu, backend/philox.py): Philox4x32-10 gives
Random123's known answers, the kernels on emu (and cuda where there is one) give the NumPy
reference's bits (with (seed, offset) by value or in device memory), a stream drawn in pieces is
the stream drawn at once, and the generator (normals, integers, its state) and a captured step's
stream (GraphPhilox) draw the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_nv.backend import cuda_unavailable_reason, get_backend
from tinygrad_nv.backend.numpy_kernels import NumpyKernels
from tinygrad_nv.backend.philox import GraphPhilox, PhiloxStream, philox, philox_uniform

M = 0xFFFFFFFF


@pytest.mark.parametrize("counter, key, words", [  # Random123's kat_vectors
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((M, M, M, M), (M, M), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))])
def test_known_answers(counter, key, words):
    assert philox(counter, key).tolist() == list(words)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniform_values(dtype):
    u = philox_uniform(100_000, dtype, seed=3, offset=0)
    assert u.dtype == dtype and u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    assert len(np.unique(u)) > 99_000


def devices():
    params = [pytest.param("emu", marks=pytest.mark.emu)]
    reason = cuda_unavailable_reason()
    params.append(pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
        reason is not None, reason=f"no CUDA device: {reason}")]))
    return params


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 1000])
def test_the_kernel_gives_the_reference_bits(device, dtype, n):
    backend = get_backend(device)
    for seed, offset in ((0, 0), (2**63 + 5, 7), (12345, 2**33)):
        got = backend.to_host(backend.kernels.philox_uniform(n, dtype, seed, offset))
        want = philox_uniform(n, dtype, seed, offset)
        np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


@pytest.mark.parametrize("dtype, piece", [("float32", 8), ("float64", 6)])
def test_a_stream_drawn_in_pieces_is_the_stream_drawn_at_once(dtype, piece):
    stream = PhiloxStream(NumpyKernels(np), seed=9)
    pieces = np.concatenate([stream.random(piece, dtype) for _ in range(5)])
    np.testing.assert_array_equal(pieces, philox_uniform(5 * piece, dtype, 9, 0))
    assert stream.offset == 5 * piece // (4 if dtype == "float32" else 2)
    assert stream.random((2, 3), dtype).shape == (2, 3)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_dev_kernel_reads_seed_and_base_offset_from_device_memory(device, dtype):
    backend = get_backend(device)
    seed, base = 2**40 + 3, 2**32 + 9
    state = backend.from_host(np.array([seed, base], np.uint64))
    for n, offset in ((1, 0), (7, 5), (1000, 2**33)):
        got = backend.to_host(backend.kernels.philox_uniform_dev(n, dtype, state, offset))
        np.testing.assert_array_equal(got, philox_uniform(n, dtype, seed, base + offset))


def test_the_generator_draws_normals_and_integers_and_resumes_from_its_state():
    stream = PhiloxStream(NumpyKernels(np), seed=4)
    z = stream.standard_normal((1000, 100))
    assert z.shape == (1000, 100) and z.dtype == np.float64 and np.isfinite(z).all()
    assert abs(z.mean()) < 0.01 and abs(z.var() - 1) < 0.01
    assert stream.standard_normal(3, np.float32).dtype == np.float32
    k = stream.integers(-3, 4, size=70_000)
    assert k.dtype == np.int64 and set(np.unique(k).tolist()) == set(range(-3, 4))
    assert abs(np.bincount(k + 3).min() / 10_000 - 1) < 0.05
    assert stream.integers(5, size=(2, 2), dtype=np.int32).dtype == np.int32
    state = stream.state()
    assert state.dtype == np.uint8 and state.size == 16
    first = stream.random(5)
    stream.set_state(state)
    np.testing.assert_array_equal(stream.random(5), first)
    with pytest.raises(RuntimeError, match="16 bytes"):
        stream.set_state(np.zeros(40, np.uint8))


@pytest.mark.parametrize("device", devices())
def test_a_graph_stream_draws_the_generators_numbers_and_moves_it_on(device):
    """GraphPhilox (a captured step's draws) gives what the generator would have given, and
    start() moves the generator past one replay's blocks."""
    kernels = get_backend(device).kernels
    eager, graph_side = PhiloxStream(kernels, 11, 6), PhiloxStream(kernels, 11, 6)
    want = [eager.random(5, np.float32), eager.standard_normal((2, 3))]
    blocks = eager.offset - 6
    stream = GraphPhilox(kernels, blocks)
    for _ in range(2):  # the graph's offsets count from 0 in each run
        stream.start(graph_side)
        got = [stream.random(5, np.float32), stream.standard_normal((2, 3))]
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(get_backend(device).to_host(a),
                                          get_backend(device).to_host(b))
        want = [eager.random(5, np.float32), eager.standard_normal((2, 3))]
    assert graph_side.offset == 6 + 2 * blocks
