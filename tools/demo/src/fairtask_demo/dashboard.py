"""The Grafana dashboard's panels drawn from a run's Prometheus, as one PNG: the same queries
(deploy/grafana/fairtask.json) over the run, for docs and for anyone without Grafana."""

import json
import re
from pathlib import Path
from typing import Any

from fairtask_demo.prometheus import Prometheus

DASHBOARD = Path("deploy/grafana/fairtask.json")
_COLUMNS = 3


async def panel_data(
    prometheus: Prometheus, panels: list[dict[str, Any]], start: float, end: float
) -> list[list[tuple[str, list[float], list[float]]]]:
    """For each panel, its series as (legend, times from start, values)."""
    step_s = max((end - start) / 200, 2.0)
    drawn = []
    for panel in panels:
        lines = []
        for target in panel["targets"]:
            for series in await prometheus.query_range(target["expr"], start, end, step_s):
                legend = _legend(target.get("legendFormat", ""), series["metric"])
                times = [float(t) - start for t, _ in series["values"]]
                values = [float(v) for _, v in series["values"]]
                lines.append((legend, times, values))
        drawn.append(lines)
    return drawn


async def render(prometheus: Prometheus, root: Path, start: float, end: float, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: straight to a file
    import matplotlib.pyplot as plt

    dashboard = json.loads((root / DASHBOARD).read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    data = await panel_data(prometheus, panels, start, end)
    rows = -(-len(panels) // _COLUMNS)
    figure, axes = plt.subplots(rows, _COLUMNS, figsize=(6 * _COLUMNS, 3.2 * rows), squeeze=False)
    for axis, panel, lines in zip(axes.flat, panels, data, strict=False):
        axis.set_title(panel["title"], fontsize=10)
        if panel["type"] == "stat":
            last = lines[0][2][-1] if lines and lines[0][2] else float("nan")
            axis.text(0.5, 0.5, f"{last:g}", ha="center", va="center", fontsize=28)
            axis.set_axis_off()
            continue
        for legend, times, values in lines:
            axis.plot(times, values, label=legend, lw=1.2)
        if not lines:
            axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes)
        axis.set_xlabel("seconds into the run", fontsize=8)
        axis.tick_params(labelsize=8)
        if lines:
            axis.legend(fontsize=7, loc="best")
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_axis_off()
    figure.suptitle(f"fairtask dashboard panels, from make run's Prometheus ({end - start:.0f} s)")
    figure.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=90)
    plt.close(figure)


def _legend(template: str, labels: dict[str, str]) -> str:
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)
    return text or ",".join(f"{k}={v}" for k, v in labels.items() if k != "__name__")
