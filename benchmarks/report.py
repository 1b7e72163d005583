"""The outputs of a run: JSON with everything, a Markdown table, a PNG per suite."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from benchmarks.harness import OURS, Settings, Suite
from benchmarks.suites.distributed import LOCAL, ONE

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


THROUGHPUT = ("GFLOP/s", "GB/s")  # higher is better: their figure over ours is the time ratio
TIME = ("s", "ms", "us", "ns", *THROUGHPUT)
MEMORY = ("B", "KiB", "MiB")
COLORS = {"better": "tab:green", "worse": "tab:red", "noise": "0.75"}
GROUPS = {"PyTorch": "against PyTorch: the same model on the same device",
          "NumPy": "against raw NumPy / CuPy: no graph and no autograd, the floor to approach"}


def within_noise(row: dict, ours: dict, theirs: dict) -> bool:
    """Whether two figures of a row differ by noise only: their interquartile ranges overlap,
    or their medians are closer than the row's stated noise."""
    return (abs(ours["median"] - theirs["median"]) <= row.get("noise", 0.0)
            or (ours["q1"] <= theirs["q3"] and theirs["q1"] <= ours["q3"]))


def comparisons(row: dict) -> list[dict]:
    """Ours against each other figure of a row, as the plots draw it: `ratio` is our time (or
    memory) over theirs, throughput inverted, so below 1 is better for us; `noise` whether
    the difference is within the measured noise; `bound` the target on that ratio, if any."""
    ours, out = row["figures"].get(OURS), []
    inverted = row["unit"] in THROUGHPUT
    for other, ratio in row["ratios"].items():
        if ratio is None or ours is None:
            continue
        target = next((t for t in row["targets"] if t["against"] == other), None)
        bound = None if target is None else 1 / target["bound"] if inverted else target["bound"]
        apart = abs(ours["median"] - row["figures"][other]["median"])
        note = (f": {apart:.2g} {row['unit']} apart, noise {row['noise']:g} {row['unit']}"
                if apart <= row.get("noise", 0.0) else "")
        out.append({"case": row["case"], "unit": row["unit"], "other": other,
                    "ratio": 1 / ratio if inverted else ratio,
                    "noise": within_noise(row, ours, row["figures"][other]), "noise_note": note,
                    "bound": bound, "met": None if target is None else target["met"]})
    return out


def group_of(other: str) -> str:
    """The panel a comparison goes to: PyTorch, NumPy (raw arrays), or its own name."""
    if other == "torch":
        return "PyTorch"
    return "NumPy" if "numpy" in other or "cupy" in other else other


def verdict(item: dict) -> str:
    """noise, better (ours faster or smaller) or worse."""
    return "noise" if item["noise"] else "better" if item["ratio"] < 1 else "worse"


def ratio_ticks(ax, low: float, high: float) -> None:
    """A log x axis from low to high with ticks written as ratios (0.5x, 1x, 2x)."""
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    steps = (0.5, 0.8, 1, 1.25, 2) if high / low < 20 else (1, 2, 5)
    ticks = [t for t in sorted({round(m * 10.0**e, 3) for m in steps for e in range(-2, 3)})
             if low <= t <= high]
    ax.set_xticks(ticks, [f"{t:g}x" for t in ticks])
    ax.minorticks_off()


def draw_ratios(ax, items: list[dict], words: tuple[str, str]) -> None:
    """One horizontal bar per comparison from 1 to its ratio, the target as a black tick."""
    values = [item["ratio"] if item["ratio"] > 0 else 1.0 for item in items]
    for y, (item, value) in enumerate(zip(items, values, strict=True)):
        kind = verdict(item)
        ax.barh(y, value - 1, left=1, height=0.6, color=COLORS[kind],
                hatch="//" if kind == "noise" else None, edgecolor="0.4", linewidth=0.5)
        word = f"within noise{item['noise_note']}" if kind == "noise" else \
            words[0] if kind == "better" else words[1]
        text = f"{item['ratio']:.2f}x ({word})"
        if item["bound"] is not None:
            ax.plot([item["bound"]] * 2, [y - 0.42, y + 0.42], color="k", linewidth=2.5)
            text += f"; target <= {item['bound']:.2g}x: {'met' if item['met'] else 'missed'}"
        ax.text(max(value, item["bound"] or 1.0, 1.0) * 1.04, y, text, va="center", fontsize=8)
    ax.axvline(1.0, color="k", linewidth=1)
    bounds = [item["bound"] for item in items if item["bound"] is not None]
    ratio_ticks(ax, min([*values, *bounds, 1.0]) / 1.3, max([*values, *bounds, 1.0]) * 3.0)
    labels = [item["case"] + ("" if item["unit"] in TIME else f" ({item['unit']})")
              + f"\nvs {item['other']}" for item in items]
    ax.set_yticks(range(len(items)), labels, fontsize=8)
    ax.set_ylim(len(items) - 0.5, -0.5)


def verdict_patches(plt, better: str, worse: str) -> list:
    """Legend entries for the colours of better, worse and within noise."""
    return [plt.Rectangle((0, 0), 1, 1, color=COLORS["better"], label=better),
            plt.Rectangle((0, 0), 1, 1, color=COLORS["worse"], label=worse),
            plt.Rectangle((0, 0), 1, 1, facecolor=COLORS["noise"], hatch="//",
                          edgecolor="0.4", label="within noise (quartiles overlap)")]


def plot_ratios(plt, name: str, suite: dict, result: dict):
    """Ours over each other implementation, one panel per kind of rival (PyTorch first)."""
    groups: dict[str, list[dict]] = {}
    for row in suite["rows"]:
        for item in comparisons(row):
            groups.setdefault(group_of(item["other"]), []).append(item)
    if not groups:
        return None
    order = sorted(groups, key=lambda g: (g != "PyTorch", g != "NumPy", g))
    units = {item["unit"] for items in groups.values() for item in items}
    quantity, words = (("time", ("faster", "slower")) if units <= set(TIME) else
                       ("memory", ("smaller", "larger")) if units <= set(MEMORY) else
                       ("cost", ("better", "worse")))
    heights = [len(groups[g]) + 2 for g in order]
    fig, axes = plt.subplots(len(order), 1, figsize=(11, 0.5 * sum(heights) + 1.8),
                             height_ratios=heights, squeeze=False)
    for ax, group in zip(axes[:, 0], order, strict=True):
        items = groups[group]
        draw_ratios(ax, items, words)
        kinds = [verdict(item) for item in items]
        met = [item["met"] for item in items if item["met"] is not None]
        ax.set_title(f"{GROUPS.get(group, f'against {group}')}\n{OURS} {words[0]} in "
                     f"{kinds.count('better')}, within noise in {kinds.count('noise')}, "
                     f"{words[1]} in {kinds.count('worse')} of {len(items)} cases"
                     + (f"; targets met: {sum(met)} of {len(met)}" if met else ""),
                     loc="left", fontsize=10)
        ax.set_xlabel(f"{OURS}'s {quantity} / the other's (log scale; below 1: {OURS} "
                      f"{words[0]})", fontsize=9)
    handles = [*verdict_patches(plt, f"{OURS} {words[0]}", f"{OURS} {words[1]}"),
               plt.Line2D([], [], color="k", linewidth=2.5, label="target")]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8)
    fig.suptitle(f"{name} on {result['device']}: {OURS}'s {quantity} as a ratio of each "
                 f"other's (below 1: {OURS} {words[0]})\n{result['date']}, {result['clock']} "
                 "clock, medians of the repeats", fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def plot_scaling(plt, name: str, suite: dict, result: dict):
    """The distributed suite: the speed-up of 2 processes over 1 at the same global batch, and
    the 2-process step split into compute and communication."""
    rows = [row for row in suite["rows"] if {OURS, ONE, LOCAL} <= set(row["figures"])]
    if not rows:
        return None
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 2.4 + 0.8 * len(rows)))
    findings, speedups = [], []
    for y, row in enumerate(rows):
        two, one, local = (row["figures"][key] for key in (OURS, ONE, LOCAL))
        speedup, noise = one["median"] / two["median"], within_noise(row, two, one)
        speedups.append(speedup)
        kind = "noise" if noise else "better" if speedup > 1 else "worse"
        ax.barh(y, speedup - 1, left=1, height=0.5, color=COLORS[kind], edgecolor="0.4",
                hatch="//" if noise else None, linewidth=0.5)
        word = {"noise": "within noise", "better": "faster", "worse": "slower"}[kind]
        ax.text(max(speedup, 1.0) * 1.04, y, f"{speedup:.2f}x ({word})", va="center",
                bbox=dict(fc="white", ec="none", alpha=0.8))
        comm = max(two["median"] - local["median"], 0.0)
        bx.barh(y, local["median"], height=0.5, color="tab:blue",
                label="compute: the step without all-reduce" if y == 0 else None)
        bx.barh(y, comm, left=local["median"], height=0.5, color="tab:orange",
                label="communication" if y == 0 else None)
        share = comm / two["median"]
        bx.text(two["median"] * 1.02, y, f"{100 * share:.0f}% communication", va="center")
        model = row["case"].split()[0]
        findings.append(f"{model} {speedup:.2f}x" + (" (noise)" if noise else "")
                        + f", {100 * share:.0f}% communication")
    labels = [row["case"].replace(", 2 processes", "") for row in rows]
    for axes in (ax, bx):
        axes.set_yticks(range(len(rows)), labels, fontsize=8)
        axes.set_ylim(len(rows) - 0.5, -0.5)
    for x, text, style in ((1.0, "no gain", "-"), (2.0, "ideal for 2", "--")):
        ax.axvline(x, color="k", linestyle=style, linewidth=1)
        ax.text(x, 0.02, f" {text}", transform=ax.get_xaxis_transform(), fontsize=8)
    ratio_ticks(ax, min([*speedups, 1.0]) / 1.5, max([*speedups, 2.0]) * 3.5)
    ax.legend(handles=verdict_patches(plt, "2 processes faster", "2 processes slower"),
              fontsize=8, loc="upper right")
    ax.set(title="speed-up of 2 processes over 1 (same global batch)",
           xlabel="1-process step time / 2-process step time (log scale; above 1: faster)")
    bx.set(title="the 2-process step: compute and communication",
           xlabel="median step time (ms)", xlim=(0, 1.9 * max(r["figures"][OURS]["median"]
                                                              for r in rows)))
    bx.legend(fontsize=8, loc="upper right")
    fig.suptitle(f"{name} on {result['device']}: " + "; ".join(findings)
                 + f"\n{result['date']}, medians of the steps", fontsize=10)
    fig.tight_layout()
    return fig


PLOTS = {"distributed": plot_scaling}


def plot(result: dict, out: Path) -> list[Path]:
    """One PNG per suite (the distributed suite: speed-up and communication share; the others:
    ours as a ratio of each rival, PyTorch apart from NumPy, targets marked). Returns the
    files written (none without matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots", file=sys.stderr)
        return []
    written = []
    for name, suite in result["suites"].items():
        fig = PLOTS.get(name, plot_ratios)(plt, name, suite, result)
        if fig is None:
            continue
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
