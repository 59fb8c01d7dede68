"""Each region's cumulative normalized share over time, fair beside fcfs, as a PNG."""

from collections.abc import Sequence
from pathlib import Path

from fairtask_sim.report import Report


def plot_shares(reports: Sequence[Report], png: str | Path) -> None:
    import matplotlib

    # No display here, and none wanted: render straight to a file.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        1, len(reports), figsize=(6.5 * len(reports), 4.5), sharey=True, squeeze=False
    )
    for axis, report in zip(axes[0], reports, strict=True):
        hours = report["timeline"]["hours"]
        for region, shares in report["timeline"]["regions"].items():
            points = [(h, s) for h, s in zip(hours, shares, strict=True) if s is not None]
            if points:
                axis.plot([h for h, _ in points], [s for _, s in points], label=region, lw=1.2)
        axis.axhline(1.0, color="black", lw=0.8, ls="--")
        jain = report["overall_jain_index"]
        axis.set_title(
            f"{report['policy']}: cumulative share by region"
            + ("" if jain is None else f" (Jain {jain:.3f})")
        )
        axis.set_xlabel("simulated hours")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("normalized share (1 = fair)")
    axes[0][-1].legend(fontsize="small", ncol=2 if len(reports[0]["regions"]) > 6 else 1)
    figure.suptitle(f"scenario {reports[0]['scenario']}")
    figure.tight_layout()
    figure.savefig(png, dpi=110)
    plt.close(figure)
