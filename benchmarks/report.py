"""The outputs of a run: JSON with everything, a Markdown table, PNG plots of the ratios."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from benchmarks.harness import OURS, Settings, Suite

LIBRARIES = ("tinygrad_nv", "numpy", "cupy-cuda12x", "cupy-cuda13x", "cupy", "torch")


def machine() -> dict:
    """Where the figures come from: CPU, cores, load, OS, Python."""
    info = {"platform": platform.platform(), "processor": _cpu_name(),
            "cores": os.cpu_count(), "python": platform.python_version()}
    if hasattr(os, "getloadavg"):
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def gpu_name(settings: Settings) -> str | None:
    if not settings.gpu:
        return None
    import cupy

    index = int(settings.device.partition(":")[2] or 0)
    name = cupy.cuda.runtime.getDeviceProperties(index)["name"]
    return name.decode() if isinstance(name, bytes) else name


def to_json(suites: list[Suite], settings: Settings, argv: list[str]) -> dict:
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python -m benchmarks", *argv]),
        "machine": machine(), "gpu": gpu_name(settings), "versions": versions(),
        "device": settings.device, "quick": settings.quick, "clock": settings.clock,
        "threads": settings.threads or "libraries' own",
        "suites": {s.name: {"rows": [r.to_json() for r in s.rows], "notes": s.notes,
                            "failures": s.failures, "seconds": round(s.seconds, 2)}
                   for s in suites},
    }


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"


def markdown(result: dict) -> str:
    """One table of every row: each implementation's median (and quartiles), ours as a
    ratio of each, the target and whether it is met."""
    m = result["machine"]
    lines = [f"# tinygrad_nv benchmarks, {result['date']}", "",
             f"`{result['command']}` on {m['processor']} ({m['cores']} cores"
             + (f", load average {m['load_average'][0]}" if "load_average" in m else "")
             + f"), device `{result['device']}`" + (f" ({result['gpu']})" if result["gpu"]
                                                   else "")
             + f", {result['clock']} clock, threads: {result['threads']}; "
             + ", ".join(f"{k} {v}" for k, v in result["versions"].items()) + ".", "",
             "Figures are medians [first-third quartile] over the repeats after warm-up; a ratio "
             f"is {OURS}'s median over the other's, measured in the same loop.", "",
             "| suite | case | unit | " + OURS + " | others | ratio | target | met |",
             "|---|---|---|---|---|---|---|---|"]
    for name, suite in result["suites"].items():
        for row in suite["rows"]:
            figs = row["figures"]
            ours = figs.get(OURS)
            others = "<br>".join(f"{k}: {_fmt(v['median'])} [{_fmt(v['q1'])}-{_fmt(v['q3'])}]"
                                 for k, v in figs.items() if k != OURS) or "-"
            ratios = "<br>".join(f"{r:.2f}x {k}" for k, r in row["ratios"].items()
                                 if r is not None) or "-"
            targets = "<br>".join(t["text"] for t in row["targets"]) or "-"
            met = "<br>".join({None: "n/a", True: "yes", False: "**no**"}[t["met"]]
                              for t in row["targets"]) or "-"
            ours_text = (f"{_fmt(ours['median'])} [{_fmt(ours['q1'])}-{_fmt(ours['q3'])}]"
                         if ours else "-")
            lines.append(f"| {name} | {row['case']} | {row['unit']} | {ours_text} | {others} "
                         f"| {ratios} | {targets} | {met} |")
    notes = [f"- {name}: {note}" for name, s in result["suites"].items() for note in s["notes"]]
    notes += [f"- {name}: **FAILED** {failure}" for name, s in result["suites"].items()
              for failure in s["failures"]]
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines) + "\n"


def plot(result: dict, out: Path) -> list[Path]:
    """One PNG per suite: ours as a ratio of each other implementation, per case, with the
    targets marked. Returns the files written (none without matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots", file=sys.stderr)
        return []
    written = []
    for name, suite in result["suites"].items():
        bars = [(f"{row['case']}\nvs {other}", ratio,
                 next((t for t in row["targets"] if t["against"] == other), None))
                for row in suite["rows"] for other, ratio in row["ratios"].items()
                if ratio is not None]
        if not bars:
            continue
        fig, ax = plt.subplots(figsize=(9, 0.5 * len(bars) + 1.5))
        labels, values, targets = zip(*bars)
        ys = range(len(bars))
        colors = ["tab:blue" if t is None else "tab:green" if
                  (v <= t["bound"] if t["at_most"] else v >= t["bound"]) else "tab:red"
                  for v, t in zip(values, targets)]
        ax.barh(ys, values, color=colors)
        for y, t in zip(ys, targets):
            if t is not None:
                ax.plot([t["bound"]] * 2, [y - 0.4, y + 0.4], color="black", linewidth=2)
        ax.axvline(1.0, color="grey", linestyle=":")
        ax.set_yticks(list(ys), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(f"{OURS} / other (time: lower is better; GFLOP/s: higher is better)")
        ax.set_title(f"{name} on {result['device']}, {result['date']} (black: target)")
        fig.tight_layout()
        path = out / f"{name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def write(result: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=1))
    (out / "results.md").write_text(markdown(result))
    return [out / "results.json", out / "results.md", *plot(result, out)]


def summary(result: dict) -> str:
    """Plain lines for a log: every case with ours and its ratios; for the training-step suites
    also `<suite> <ours> <torch> ms` (the line benchmarks/gpu_check.sh reads)."""
    lines = []
    for name, suite in result["suites"].items():
        headline = None
        for row in suite["rows"]:
            ours = row["figures"].get(OURS)
            ratios = ", ".join(f"{r:.2f}x {k}" for k, r in row["ratios"].items() if r is not None)
            met = "".join(f" (target {t['text']}: {'met' if t['met'] else 'MISSED'})"
                          for t in row["targets"] if t["met"] is not None)
            value = f"{ours['median']:.4g} {row['unit']}" if ours else "-"
            lines.append(f"{name}/{row['case']}: {value}" + (f"; {ratios}" if ratios else "")
                         + met)
            if headline is None and ours and "torch" in row["figures"] and row["unit"] == "ms":
                headline = f"{name} {ours['median']:.3f} {row['figures']['torch']['median']:.3f}"
        lines += [f"{name}: {note}" for note in suite["notes"]]
        lines += [f"{name}: FAILED {failure}" for failure in suite["failures"]]
        if headline and name in ("mlp", "cnn", "transformer"):
            lines.append(f"{headline} ms ({OURS} vs torch)")
    return "\n".join(lines)
