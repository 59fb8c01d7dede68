"""The report's delays up the ladder of rates: ours beside the raw floor's at each, and up to
which rate each delay goal holds."""

from collections.abc import Iterable
from typing import Any


def latency_by_rate(
    ours: dict[str, Any],
    raw: dict[str, Any],
    poll: dict[str, Any],
    push_p99_ms: float,
    submit_to_offer_p99_ms: float,
    times_faster_than_poll: float,
) -> dict[str, Any]:
    """From the runs' ladders; a rate one of them skipped is null on its side. The poll
    queue is measured at the rates the dispatcher was, and compared with it at p50, as the
    goal is: its delivery (insert to worker) over ours (submit to offer)."""
    ours_at, raw_at = _by_rate(ours), _by_rate(raw)
    poll_at = {step["rate_per_second"]: step["delivery_latency_ms"] for step in poll["ladder"]}
    vs_poll = {
        rate: round(poll_at[rate]["p50"] / side["submit_to_offer_ms"]["p50"], 1)
        for rate, side in ours_at.items()
        if rate in poll_at and side["submit_to_offer_ms"]["p50"] > 0
    }
    return {
        "goals_p99_ms": {"push": push_p99_ms, "submit_to_offer": submit_to_offer_p99_ms},
        "goal_poll_over_ours_p50": times_faster_than_poll,
        "push_p99_met_up_to_per_second": _met_up_to(ours, "push_latency_ms", push_p99_ms),
        "submit_to_offer_p99_met_up_to_per_second": _met_up_to(
            ours, "submit_to_offer_ms", submit_to_offer_p99_ms
        ),
        "poll_over_ours_met_up_to_per_second": _ratio_met_up_to(vs_poll, times_faster_than_poll),
        "rates": [
            {
                "rate_per_second": rate,
                "ours": ours_at.get(rate),
                "raw_floor": raw_at.get(rate),
                "poll": {"delivery_ms": _brief(poll_at[rate])} if rate in poll_at else None,
                "poll_over_ours_p50": vs_poll.get(rate),
            }
            for rate in sorted(ours_at.keys() | raw_at.keys())
        ],
        # Rates above LATENCY_SHARE of what a server sustained were not measured on it.
        "cap_per_second": {
            "ours": ours["ladder_cap_per_second"],
            "raw_floor": raw["ladder_cap_per_second"],
        },
        "skipped_per_second": {
            "ours": ours["ladder_skipped_per_second"],
            "raw_floor": raw["ladder_skipped_per_second"],
        },
    }


def _by_rate(run: dict[str, Any]) -> dict[float, dict[str, Any]]:
    return {
        step["rate_per_second"]: {
            "push_ms": _brief(step["push_latency_ms"]),
            "submit_to_offer_ms": _brief(step["submit_to_offer_ms"]),
        }
        for step in run["ladder"]
    }


def _brief(latency: dict[str, float]) -> dict[str, float]:
    return {key: latency[key] for key in ("p50", "p99", "samples")}


def _met_up_to(run: dict[str, Any], delay: str, goal_p99_ms: float) -> float | None:
    """The highest ladder rate at which the p99 met the goal."""
    return _held_up_to(
        (step["rate_per_second"], step[delay]["p99"] <= goal_p99_ms) for step in run["ladder"]
    )


def _ratio_met_up_to(ratios: dict[float, float], goal: float) -> float | None:
    """The highest rate at which the ratio reached the goal."""
    return _held_up_to((rate, ratios[rate] >= goal) for rate in sorted(ratios))


def _held_up_to(rates: Iterable[tuple[float, bool]]) -> float | None:
    """The highest of the ascending rates at which a goal held, as it did at every lower one
    (a lucky window above a miss does not count); None if it missed at the lowest."""
    met = None
    for rate, held in rates:
        if not held:
            break
        met = rate
    return met


def summary_lines(section: dict[str, Any]) -> list[str]:
    """Two lines for the terminal: the p99s up the ladder, and up to where each goal held."""
    rates, goals = section["rates"], section["goals_p99_ms"]

    def p99s(side: str, delay: str) -> str:
        return "/".join(f"{r[side][delay]['p99']:,.1f}" if r[side] else "-" for r in rates)

    def up_to(key: str) -> str:
        rate = section[key]
        return "no ladder rate" if rate is None else f"{rate:,.0f}/s"

    at = "/".join(f"{r['rate_per_second']:,.0f}" for r in rates)
    poll_p50s = "/".join(
        f"{r['poll']['delivery_ms']['p50']:,.0f}" if r["poll"] else "-" for r in rates
    )
    times = "/".join(
        "-" if r["poll_over_ours_p50"] is None else f"{r['poll_over_ours_p50']:,.1f}x"
        for r in rates
    )
    skipped = "/".join(f"{rate:,.0f}" for rate in section["skipped_per_second"]["ours"])
    cap = section["cap_per_second"]["ours"]
    return [
        f"by rate:    at {at}/s ours (raw floor) push p99 {p99s('ours', 'push_ms')} "
        f"({p99s('raw_floor', 'push_ms')}) ms, submit-to-offer p99 "
        f"{p99s('ours', 'submit_to_offer_ms')} ({p99s('raw_floor', 'submit_to_offer_ms')}) ms",
        f"            ours: push p99 <= {goals['push']} ms up to "
        f"{up_to('push_p99_met_up_to_per_second')}, submit-to-offer p99 <= "
        f"{goals['submit_to_offer']} ms up to {up_to('submit_to_offer_p99_met_up_to_per_second')}"
        + (f" (skipped {skipped}/s, above {cap:,.0f}/s)" if skipped else ""),
        f"            poll delivery p50 {poll_p50s} ms: {times} ours; "
        f">= {section['goal_poll_over_ours_p50']:,.0f}x up to "
        f"{up_to('poll_over_ours_met_up_to_per_second')}",
    ]
