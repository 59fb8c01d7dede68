import copy
from collections.abc import Callable
from typing import Any

import pytest

from fairtask_sim.scenario import Scenario, parse_scenario

TINY: dict[str, Any] = {
    "name": "tiny",
    "seed": 5,
    "duration_hours": 48,
    "regions": [
        {
            "name": "early",
            "utc_offset_hours": 2,
            "workers": 12,
            "availability": ["08:00-12:00", "18:00-20:00"],
            "link_latency_ms": 20,
            "night_pollers": 0.25,
            "skills": {"en": 1.0, "sw": 0.5},
            "sensitive_opt_in": 0.5,
            "exposure_cap_hours": 1,
        },
        {
            "name": "late",
            "utc_offset_hours": -5,
            "workers": 10,
            "availability": ["09:00-13:00"],
            "link_latency_ms": 150,
            "outages": {"per_day": 2, "mean_minutes": 40, "affected_share": 0.5},
            "skills": {"en": 1.0},
            "sensitive_opt_in": 0.3,
        },
    ],
    "platforms": [
        {
            "name": "lab",
            "task_types": [
                {
                    "name": "rating",
                    "arrivals_per_hour": 20,
                    "bursts": [{"at_utc": "23:00", "count": 30}],
                    "effort_seconds": 300,
                    "deadline_hours": 24,
                    "price_usd": 1.25,
                    "skills": ["en"],
                    "cancel_share": 0.05,
                },
                {
                    "name": "sw-audio",
                    "arrivals_per_hour": 6,
                    "effort_seconds": 600,
                    "deadline_hours": 30,
                    "price_usd": 2.5,
                    "skills": ["sw"],
                },
                {
                    "name": "gore",
                    "arrivals_per_hour": 8,
                    "effort_seconds": 240,
                    "deadline_hours": 24,
                    "price_usd": 1.0,
                    "sensitive": True,
                    "sensitive_category": "violence",
                },
            ],
        }
    ],
}


@pytest.fixture
def tiny_data() -> dict[str, Any]:
    """A small two-region scenario as the YAML would give it; tests change it freely."""
    return copy.deepcopy(TINY)


@pytest.fixture
def make_scenario() -> Callable[[dict[str, Any]], Scenario]:
    return lambda data: parse_scenario(data, "test")


@pytest.fixture
def tiny(make_scenario: Callable[[dict[str, Any]], Scenario]) -> Scenario:
    return make_scenario(copy.deepcopy(TINY))
