"""The benchmark suite as a product: every suite runs (tiny sizes through the hidden --tiny
knob), writes valid JSON, Markdown and plots; the hand-written baselines compute what the
framework computes. No test asserts a time."""

from __future__ import annotations

import json
import statistics
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks import report
from benchmarks.__main__ import SUITES, main
from benchmarks.harness import EAGER, OURS, Row, Settings, Stat, Target, page_faults
from benchmarks.suites import distributed, memory, mlp

LOCAL = [s for s in SUITES if s != "distributed"]  # distributed: its own (slow) test
try:  # CI installs no PyTorch: the suites then leave its columns out, and so do these checks
    import torch  # noqa: F401
    BASELINES = {"torch"}
except ImportError:
    BASELINES = set()


def run_suites(tmp_path, device: str, suites: list[str]) -> dict:
    assert main(["--suite", *suites, "--quick", "--tiny", "--device", device,
                 "--out", str(tmp_path)]) == 0
    return json.loads((tmp_path / "results.json").read_text())


def check_outputs(result: dict, tmp_path, suites: list[str]) -> None:
    assert set(result["suites"]) == set(suites)
    assert {"machine", "versions", "device", "date", "command"} <= set(result)
    assert result["versions"]["numpy"] == np.__version__
    markdown = (tmp_path / "results.md").read_text()
    header = f"| suite | case | unit | {OURS} | others | ratio | target | met |"
    assert header in markdown
    table = [line for line in markdown.splitlines() if line.startswith("| ")]
    rows = [(name, row) for name, suite in result["suites"].items() for row in suite["rows"]]
    assert len(table) == 1 + len(rows)  # the header, then one line per row
    for name, row in rows:
        assert f"| {name} | {row['case']} |" in markdown
        for stat in row["figures"].values():
            assert stat["min"] <= stat["q1"] <= stat["median"] <= stat["q3"] <= stat["max"]
            assert stat["n"] >= 1
        for other, ratio in row["ratios"].items():
            if ratio is not None:
                expected = row["figures"][OURS]["median"] / row["figures"][other]["median"]
                assert ratio == pytest.approx(expected)
    for name in suites:
        if any(r["ratios"] for r in result["suites"][name]["rows"]):
            assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_every_suite_writes_json_markdown_and_plots(tmp_path, device):
    result = run_suites(tmp_path, device, LOCAL)
    check_outputs(result, tmp_path, LOCAL)
    assert result["device"] == device
    assert all(result["suites"][name]["rows"] for name in LOCAL)
    mlp_rows = result["suites"]["mlp"]["rows"]
    assert {"SGD batch 8", "Adam batch 8"} == {r["case"] for r in mlp_rows
                                               if r["unit"] == "ms" and "jit" not in r["case"]}
    assert all("hand-written numpy" in r["figures"] or "hand-written cupy" in r["figures"]
               for r in mlp_rows if "recording" not in r["case"])
    for name in ("mlp", "cnn", "transformer", "gpt", "lstm"):  # every training suite: faults
        faults = [r for r in result["suites"][name]["rows"] if r["unit"] == "faults"]
        assert faults and all(set(r["figures"]) >= {OURS, *BASELINES} for r in faults)
        rows = {r["case"]: r for r in result["suites"][name]["rows"]}  # eager and jit beside
        for case in [c for c in rows if c + ", jit" in rows]:
            assert set(rows[case + ", jit"]["figures"]) >= {OURS, EAGER, *BASELINES}
            assert rows[case + ", jit"]["figures"][EAGER] == rows[case]["figures"][OURS]
            assert rows[case + ", jit recording (once, wall clock)"]["figures"][OURS]["n"] == 1
        assert any(c + ", jit" in rows for c in rows)
    assert not any(s["failures"] for s in result["suites"].values())


def test_without_torch_the_suites_say_so_and_report_the_rest(tmp_path, monkeypatch, device):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    suites = ["overhead", "cnn", "transformer"]
    result = run_suites(tmp_path, device, suites)
    check_outputs(result, tmp_path, suites)
    for name in suites:
        suite = result["suites"][name]
        assert any("PyTorch is not installed" in note for note in suite["notes"])
        assert all("torch" not in row["figures"] for row in suite["rows"])
        assert all(OURS in row["figures"] for row in suite["rows"])


@pytest.mark.slow
def test_distributed_suite(tmp_path):
    pytest.importorskip("mpi4py")
    result = run_suites(tmp_path, "cpu", ["distributed"])
    check_outputs(result, tmp_path, ["distributed"])
    (row,) = result["suites"]["distributed"]["rows"]
    assert set(row["figures"]) == {OURS, distributed.ONE, distributed.LOCAL}


def test_no_scipy_blocks_scipy_in_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))  # the block ends with the test
    monkeypatch.delitem(sys.modules, "scipy", raising=False)
    assert main(["--suite", "gpt", "--tiny", "--no-scipy", "--out", str(tmp_path)]) == 0
    with pytest.raises(ModuleNotFoundError, match="--no-scipy"):
        import scipy  # noqa: F401
    notes = json.loads((tmp_path / "results.json").read_text())["suites"]["gpt"]["notes"]
    assert "SciPy blocked (--no-scipy): not loaded" in notes
    assert any("same first loss as PyTorch" in note for note in notes) == bool(BASELINES)


def test_page_faults_count_memory_taken_from_the_os_again():
    big = 1 << 26  # 64 MiB: above any malloc threshold, mapped afresh (huge pages: 32 faults)
    faults = page_faults({"fresh": lambda: np.ones(big // 8), "none": lambda: None}, 3)
    assert faults["fresh"].median > 10 * max(1.0, faults["none"].median)


def test_progress_is_plain_lines_off_a_terminal(tmp_path, capsys):
    main(["--suite", "overhead", "--tiny", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert "overhead: running" in err and "\r" not in err


def test_thread_limits_end_with_the_run(tmp_path):
    torch = pytest.importorskip("torch")
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        main(["--suite", "matmul", "--tiny", "--threads", "1", "--out", str(tmp_path)])
        assert torch.get_num_threads() == 2
        assert json.loads((tmp_path / "results.json").read_text())["threads"] == 1
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize("argv", [["--repeat", "0"], ["--suite", "nope"], ["--threads", "-1"],
                                  ["--clock", "sundial"]])
def test_bad_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert "error" in capsys.readouterr().err


def test_an_unknown_device_is_a_clear_error(tmp_path, capsys):
    assert main(["--device", "tpu", "--suite", "overhead", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown device 'tpu'" in err and "Traceback" not in err
    assert not (tmp_path / "results.json").exists()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@given(batch=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_hand_written_mlp_computes_what_the_framework_computes(device, optimizer, batch, seed):
    settings = Settings(device=device, tiny=True)
    ours, hand, data, model = mlp.build(settings, optimizer, batch, seed)  # checks at start-up
    for _ in range(2):  # and they stay together over further steps
        ours_loss, hand_loss = float(ours().item()), float(hand())
        assert ours_loss == pytest.approx(hand_loss, rel=1e-5)


def test_the_start_up_check_catches_a_different_computation(device):
    settings = Settings(device=device, tiny=True)
    _, _, (x, y), model = mlp.build(settings, "sgd", 4)
    params = [p.numpy().copy() for p in model.parameters()]
    params[1] += 0.5  # another bias: not the same network
    from tinygrad_nv.backend import get_backend
    backend = get_backend(device)
    wrong = mlp.HandWrittenMLP([backend.from_host(p) for p in params], backend.xp, "sgd")
    ours, _, _, _ = mlp.build(settings, "sgd", 4)
    with pytest.raises(AssertionError):
        mlp.check_equal(model, ours, wrong, backend.from_host(x), backend.from_host(y),
                        backend)


def test_memory_profile_counts_what_a_step_holds():
    kept = []
    peak, growth = memory.profile(lambda: kept.append(np.ones(1024)), first=2, last=6)
    assert growth == pytest.approx(4 * 8 * 1024, rel=0.1)  # four more arrays of 8 KiB
    assert peak >= 6 * 8 * 1024
    peak, growth = memory.profile(lambda: np.ones(4096).sum(), first=2, last=6)
    assert abs(growth) < 1024 and peak >= 4096 * 8


@given(st.lists(st.floats(0.001, 1000.0), min_size=1, max_size=30))
def test_stat_is_median_and_quartiles(samples):
    stat = Stat.of(samples)
    assert stat.median == statistics.median(samples)
    assert stat.min == min(samples) and stat.max == max(samples) and stat.n == len(samples)
    assert stat.min <= stat.q1 <= stat.median <= stat.q3 <= stat.max
    throughput = stat.inverted(10.0)
    assert throughput.median == pytest.approx(10.0 / stat.median)
    assert throughput.min == pytest.approx(10.0 / stat.max)


def test_row_ratios_and_targets():
    row = Row("case", "ms", {OURS: Stat.of([2.0]), "numpy": Stat.of([4.0]),
                             "torch": Stat.of([1.0]), "none": Stat.of([0.0])},
              [Target("numpy", 1.1), Target("torch", 0.8)])
    out = row.to_json()
    assert out["ratios"] == {"numpy": 0.5, "torch": 2.0, "none": None}
    assert [t["met"] for t in out["targets"]] == [True, False]
    assert Target("numpy", 0.97, at_most=False).met(0.98)
    assert str(Target("torch", 0.5)) == "<= 0.5x torch"
    faults = Row("faults", "faults", {OURS: Stat.of([90.0]), "torch": Stat.of([0.0])},
                 [Target("torch", 2.0, floor=50.0), Target("torch", 1.0, floor=50.0),
                  Target("torch", 2.0)]).to_json()
    assert faults["ratios"] == {"torch": None}  # no ratio to 0, but the floor decides
    assert [t["met"] for t in faults["targets"]] == [True, False, None]


def stat(median: float, q1: float, q3: float) -> Stat:
    return Stat(median, q1, q3, q1, q3, 5)


def test_plots_read_every_row_as_our_time_over_theirs():
    """Throughput inverted (below 1 is better for us in every suite), targets with it; a
    difference inside the quartiles or below the row's stated noise is noise."""
    gflops = Row("matmul", "GFLOP/s", {OURS: stat(100, 95, 105), "numpy": stat(125, 120, 130),
                                       "torch": stat(101, 96, 106)},
                 [Target("numpy", 0.97, at_most=False)]).to_json()
    by_other = {item["other"]: item for item in report.comparisons(gflops)}
    assert by_other["numpy"]["ratio"] == pytest.approx(1.25)  # 25% more time than NumPy
    assert by_other["numpy"]["bound"] == pytest.approx(1 / 0.97)
    assert by_other["numpy"]["met"] is False and not by_other["numpy"]["noise"]
    assert by_other["torch"]["noise"]  # quartiles overlap
    growth = Row("held", "KiB", {OURS: stat(0.4, 0.4, 0.4), "numpy": stat(0.2, 0.2, 0.2)},
                 noise=64.0).to_json()
    (item,) = report.comparisons(growth)
    assert item["ratio"] == pytest.approx(2.0) and item["noise"]
    assert [report.group_of(name) for name in ("torch", "hand-written numpy", "cupy",
                                               "1 process")] == ["PyTorch", "NumPy", "NumPy",
                                                                 "1 process"]


def test_plots_keep_pytorch_and_numpy_apart_and_draw_the_scaling(tmp_path):
    pytest.importorskip("matplotlib")
    rows = [Row("step", "ms", {OURS: stat(2, 1.9, 2.1), "torch": stat(1, 0.9, 1.1),
                               "hand-written numpy": stat(1.5, 1.4, 1.6)},
                [Target("torch", 0.8)]).to_json()]
    scaling = [Row("mlp step, global batch 64, 2 processes", "ms",
                   {OURS: stat(6, 5.8, 6.2), distributed.ONE: stat(9, 8.8, 9.2),
                    distributed.LOCAL: stat(4, 3.9, 4.1)}).to_json()]
    result = {"device": "cpu", "date": "today", "clock": "wall",
              "suites": {"mlp": {"rows": rows}, "distributed": {"rows": scaling},
                         "kernels": {"rows": []}}}
    written = report.plot(result, tmp_path)
    assert [p.name for p in written] == ["mlp.png", "distributed.png"]
    for path in written:
        assert path.stat().st_size > 15_000
