"""Scenario files: every shipped one loads, and a bad file gets errors that name the field."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fairtask_sim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

SCENARIOS = sorted((Path(__file__).parents[2] / "scenarios").glob("*.yaml"))


def problems_of(data: Any) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data, "bad.yaml")
    return caught.value.problems


def test_at_least_five_scenarios_ship_and_all_load() -> None:
    assert len(SCENARIOS) >= 5
    for path in SCENARIOS:
        scenario = load_scenario(path)
        assert scenario.regions
        assert scenario.task_types
    sizes = {
        load_scenario(p).name: sum(r.workers for r in load_scenario(p).regions) for p in SCENARIOS
    }
    assert sizes["global-week"] == 20_000


def test_the_large_scenario_is_twenty_regions_for_a_week() -> None:
    scenario = load_scenario(next(p for p in SCENARIOS if p.stem == "global-week"))
    assert len(scenario.regions) == 20
    assert scenario.duration_s == 7 * 86_400


def test_frozen_values(tiny: Scenario) -> None:
    early = tiny.regions[0]
    assert early.utc_offset_s == 7200
    assert [(w.start_min, w.end_min) for w in early.windows] == [(480, 720), (1080, 1200)]
    assert early.exposure_cap_s == 3600
    rating = tiny.task_types[0]
    assert (rating.platform, rating.price_micros, rating.deadline_s) == ("lab", 1_250_000, 86_400)
    assert rating.bursts[0].at_utc_s == 23 * 3600
    assert tiny.behaviour.grace_s == 900


def test_window_out_of_range_names_the_list_item(tiny_data: dict[str, Any]) -> None:
    tiny_data["regions"][1]["availability"] = ["09:00-13:00", "25:00-26:00"]
    assert problems_of(tiny_data) == [
        'regions[1].availability[1]: "25:00-26:00" is not HH:MM-HH:MM'
    ]


def test_empty_window_and_unquoted_time(tiny_data: dict[str, Any]) -> None:
    tiny_data["regions"][0]["availability"] = ["10:00-10:00"]
    # YAML 1.1 turns an unquoted 13:00 into the number 780.
    tiny_data["platforms"][0]["task_types"][0]["bursts"] = [{"at_utc": 780, "count": 3}]
    problems = problems_of(tiny_data)
    assert problems[0].startswith('regions[0].availability[0]: "10:00-10:00" is empty')
    assert problems[1].startswith("platforms[0].task_types[0].bursts[0].at_utc: read as the number")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["regions"][0].update(workers="3"),
            "regions[0].workers: Input should be a valid integer",
        ),
        (
            lambda d: d["regions"][0].update(skills={"en": 1.5}),
            "regions[0].skills.en: Input should be less than or equal to 1",
        ),
        (
            lambda d: d["regions"][0].update(night_pollers=-0.1),
            "regions[0].night_pollers: Input should be greater than or equal to 0",
        ),
        (
            lambda d: d["regions"][1]["outages"].update(per_day=-1),
            "regions[1].outages.per_day: Input should be greater than or equal to 0",
        ),
        (
            lambda d: d["regions"][1]["outages"].update(colour="red"),
            "regions[1].outages.colour: is not a known field",
        ),
        (
            lambda d: d["platforms"][0]["task_types"][0].update(deadline_hours=0),
            "platforms[0].task_types[0].deadline_hours: Input should be greater than 0",
        ),
        (
            lambda d: d["platforms"][0]["task_types"][1].update(price_usd=-1),
            "platforms[0].task_types[1].price_usd: Input should be greater than or equal to 0",
        ),
        (
            lambda d: d["platforms"][0]["task_types"][2].update(sensitive_category="gore"),
            'platforms[0].task_types[2].sensitive_category: "gore" is not one of',
        ),
        (
            lambda d: d["platforms"][0]["task_types"][0].pop("effort_seconds"),
            "platforms[0].task_types[0].effort_seconds: is required",
        ),
        (lambda d: d.update(duration_hours=-4), "duration_hours: Input should be greater than 0"),
        (lambda d: d.update(regions=[]), "regions: List should have at least 1 item"),
        (lambda d: d.update(behavior={}), "behavior: is not a known field"),
    ],
)
def test_field_problems_name_the_field(
    tiny_data: dict[str, Any], change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    change(tiny_data)
    problems = problems_of(tiny_data)
    assert len(problems) == 1
    assert problems[0].startswith(expected)


def test_cross_field_problems(tiny_data: dict[str, Any]) -> None:
    tiny_data["regions"][1]["name"] = "early"
    tiny_data["platforms"][0]["task_types"][1]["name"] = "rating"
    tiny_data["platforms"][0]["task_types"][0]["skills"] = ["en", "tl"]
    tiny_data["platforms"][0]["task_types"][2]["price_usd"] = 0.2
    tiny_data["regions"][1]["outages"] = {"per_day": 3, "mean_minutes": 0}
    assert problems_of(tiny_data) == [
        'regions[1].name: "early" is a duplicate of regions[0].name',
        "regions[1].outages.mean_minutes: must be > 0 when per_day > 0",
        'platforms[0].task_types[0].skills[1]: "tl" is not a skill of any region',
        'platforms[0].task_types[1].name: "rating" is already used by platforms[0].task_types[0]'
        " (task type names are pool names)",
        "platforms[0].task_types[2].price_usd: 0.2 pays $3.00/h at 240 s of effort, below the"
        " pay floor of $12/h",
    ]


def test_sensitive_work_needs_someone_who_opted_in(tiny_data: dict[str, Any]) -> None:
    for region in tiny_data["regions"]:
        region["sensitive_opt_in"] = 0
    assert problems_of(tiny_data) == [
        "platforms[0].task_types[2].sensitive: no region has workers who opted in"
    ]


def test_behaviour_shares_must_add_up(tiny_data: dict[str, Any]) -> None:
    tiny_data["behaviour"] = {"accept_share": 0.8, "decline_share": 0.3}
    assert problems_of(tiny_data) == [
        "behaviour.decline_share: accept_share + decline_share exceeds 1"
    ]


def test_not_a_mapping() -> None:
    assert problems_of(["a", "list"]) == ["<root>: must be a mapping of fields"]


def test_unreadable_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(broken)
    with pytest.raises(ScenarioError, match="cannot be read"):
        load_scenario(tmp_path / "missing.yaml")
    broken.write_text("name: x\nduration_hours: 1\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(broken)
    assert str(broken) in str(caught.value)
    assert "regions: is required" in caught.value.problems
