"""What the example tests share: where the examples are, and the check that a PNG shows
something."""

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HAS_MPL = importlib.util.find_spec("matplotlib") is not None
MIN_BYTES = 15_000  # an empty set of axes is about 10 KB, our figures 45 KB and more
MIN_STD = 0.1  # of the pixel values in [0, 1]: 0 when blank, about 0.08 for empty axes


def check_png(path: Path) -> None:
    """`path` is a PNG that shows something: not tiny, and not one flat colour. Without
    matplotlib the examples draw nothing, so there is no file."""
    if not HAS_MPL:
        assert not path.exists()
        return
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert len(data) > MIN_BYTES, f"{path.name}: only {len(data)} bytes"
    import matplotlib.image
    spread = float(matplotlib.image.imread(path)[..., :3].std())
    assert spread > MIN_STD, f"{path.name}: nearly blank (pixel standard deviation {spread:.3f})"
