import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fairtask_demo.model import (
    FinalTask,
    Ledger,
    LedgerRegion,
    RunRecord,
    Statement,
    StatementLine,
    SubmittedTask,
    WorkerProfile,
    WorkerTally,
)
from fairtask_demo.pay import below_floor_payments, pay_rate_spread_usd
from fairtask_demo.report import build_report

# 12:00 UTC: day in Chicago (06:00 is still night there) and in Manila (20:00).
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
FLOOR = 12_000_000


def _worker(worker_id: str, region: str, tz: str, offset: float, eligible: float) -> WorkerTally:
    tally = WorkerTally(WorkerProfile(worker_id, region, tz, offset, ("00:00-24:00",)))
    tally.eligible_seconds = eligible
    return tally


def _task(task_id: str, task_type: str = "image-label", effort: int = 90) -> SubmittedTask:
    return SubmittedTask(
        task_id=task_id,
        client_task_id=f"c-{task_id}",
        platform="lab-a",
        task_type=task_type,
        effort_seconds=effort,
        gold=False,
        deadline=NOON + timedelta(hours=4),
        submitted_at=NOON - timedelta(minutes=1),
    )


def _pay(task_id: str, amount: int = 400_000, seconds: int = 90) -> StatementLine:
    return StatementLine(task_id, "TASK_PAY", amount, seconds)


def _record(**changes: Any) -> RunRecord:
    us = _worker("us-1", "us", "America/Chicago", -6, eligible=100.0)
    ph = _worker("ph-1", "ph", "Asia/Manila", 8, eligible=100.0)
    us.submit_sent_at["t1"] = NOON  # 06:00 in Chicago: night work
    ph.submit_sent_at["t2"] = NOON
    ph.submit_sent_at["t3"] = NOON
    ph.pushes_outside_window = 1
    fields: dict[str, Any] = {
        "policy": "round_robin",
        "scenario": "demo",
        "duration_s": 40.0,
        "drain_s": 3.0,
        "ended_at": NOON + timedelta(minutes=1),
        "tasks": {t: _task(t) for t in ("t1", "t2", "t3", "t4", "t5", "t6")},
        "final": {
            "t1": FinalTask("SUBMITTED", "us-1"),
            "t2": FinalTask("SUBMITTED", "ph-1"),
            "t3": FinalTask("SUBMITTED", "ph-1"),
            "t4": FinalTask("QUEUED"),
            "t5": FinalTask("LOST"),
            # t6: the dispatcher could not say: lost as well
        },
        "workers": [us, ph],
        "statements": {
            "us-1": Statement("us-1", 400_000, 90, 1, (_pay("t1"),)),
            "ph-1": Statement("ph-1", 800_000, 180, 2, (_pay("t2"), _pay("t3"))),
        },
        "ledger": Ledger(True, 3, 1_200_000, 1_200_000, (LedgerRegion("us", 400_000, 90, 1),)),
        "results_released": 3,
        "submit_failures": 0,
        "pay_floor_micros_per_hour": FLOOR,
        "night_window": "22:00-07:00",
    }
    fields.update(changes)
    return RunRecord(**fields)


def test_task_counts_come_from_the_dispatchers_final_states() -> None:
    report = build_report(_record())
    assert report["tasks_submitted"] == 6
    assert report["tasks_completed"] == 3
    assert report["tasks_pending_at_end"] == 1
    assert report["tasks_lost"] == 2
    assert report["tasks_by_state"] == {"LOST": 2, "QUEUED": 1, "SUBMITTED": 3}


def test_region_figures_add_up_their_workers() -> None:
    report = build_report(_record())
    us, ph = report["regions"]["us"], report["regions"]["ph"]
    assert us == {
        "workers": 1,
        "eligible_worker_seconds": 100.0,
        "work_seconds_assigned": 90,
        "tasks_completed": 1,
        "earnings_usd": 0.4,
        "paid_seconds": 90,
        "pushes_outside_window": 0,
        "night_work_seconds": 90,
        "paid_onboarding_seconds": 0,
        "effective_hourly_usd": 16.0,
    }
    assert ph["work_seconds_assigned"] == 180
    assert ph["earnings_usd"] == 0.8
    assert ph["night_work_seconds"] == 0
    assert ph["pushes_outside_window"] == 1


def test_worker_rows_carry_their_own_figures() -> None:
    rows = {row["worker_id"]: row for row in build_report(_record())["workers"]}
    assert rows["ph-1"]["region"] == "ph"
    assert rows["ph-1"]["work_seconds"] == 180
    assert rows["ph-1"]["eligible_seconds"] == 100.0
    assert rows["ph-1"]["earnings_usd"] == 0.8
    assert rows["us-1"]["paid_seconds"] == 90


def test_fairness_is_judged_per_pool_and_the_headline_is_the_worst() -> None:
    tasks = {t: _task(t) for t in ("t1", "t2", "t3")}
    tasks["t4"] = _task("t4", task_type="chat-rating", effort=60)
    final = {
        "t1": FinalTask("SUBMITTED", "us-1"),
        "t2": FinalTask("SUBMITTED", "ph-1"),
        "t3": FinalTask("SUBMITTED", "ph-1"),
        "t4": FinalTask("SUBMITTED", "us-1"),
    }
    report = build_report(_record(tasks=tasks, final=final))
    image = report["pools"]["image-label"]
    chat = report["pools"]["chat-rating"]
    # image-label: us 90 s, ph 180 s over equal eligible time.
    assert image["shares"] == {"ph": pytest.approx(4 / 3), "us": pytest.approx(2 / 3)}
    assert image["max_min_share_ratio"] == pytest.approx(2.0)
    # chat-rating went to us only: ph is starved, so the ratio is unbounded (null in JSON).
    assert chat["max_min_share_ratio"] is None
    assert chat["regions"]["ph"]["eligible_worker_seconds"] == 100.0
    assert report["jain_index"] == chat["jain_index"] == pytest.approx(0.5)
    assert report["max_min_share_ratio"] is None


def test_an_evenly_served_run_is_perfectly_fair() -> None:
    final = {
        "t1": FinalTask("SUBMITTED", "us-1"),
        "t2": FinalTask("SUBMITTED", "ph-1"),
    }
    tasks = {t: _task(t) for t in ("t1", "t2")}
    report = build_report(_record(tasks=tasks, final=final))
    assert report["jain_index"] == pytest.approx(1.0)
    assert report["max_min_share_ratio"] == pytest.approx(1.0)
    assert report["worker_jain_index"] == pytest.approx(1.0)


def test_the_report_is_strict_json() -> None:
    report = build_report(_record())
    json.dumps(report, allow_nan=False)


def test_ledger_balance_and_its_absence_are_reported() -> None:
    assert build_report(_record())["ledger_balanced"] is True
    assert build_report(_record(ledger=None))["ledger_balanced"] is None


def test_a_missed_deadline_counts_whether_or_not_the_task_was_done() -> None:
    early = NOON - timedelta(minutes=10)
    late = replace(_task("t1"), submitted_at=early, deadline=NOON - timedelta(seconds=1))
    waiting = replace(_task("t4"), submitted_at=early, deadline=NOON)
    tasks = {"t1": late, "t2": _task("t2"), "t4": waiting}
    report = build_report(_record(tasks=tasks))
    assert report["deadline_misses"] == 2  # t1 submitted late; t4 still queued past its deadline
    assert report["feasible_deadline_misses"] == 2


def test_an_infeasible_deadline_is_a_miss_but_not_a_feasible_one() -> None:
    task = _task("t4")
    task = replace(task, deadline=task.submitted_at + timedelta(seconds=30))
    report = build_report(_record(tasks={"t4": task}))
    assert report["deadline_misses"] == 1
    assert report["feasible_deadline_misses"] == 0


def test_same_work_paid_differently_across_regions_shows_as_spread() -> None:
    tasks = {t: _task(t) for t in ("t1", "t2", "t3")}
    statements = {
        "us-1": Statement("us-1", 400_000, 90, 1, (_pay("t1", 400_000),)),
        "ph-1": Statement("ph-1", 600_000, 180, 2, (_pay("t2", 300_000), _pay("t3", 300_000))),
    }
    spread = pay_rate_spread_usd(statements, {"us-1": "us", "ph-1": "ph"}, tasks)
    assert spread == pytest.approx(0.1)
    assert build_report(_record())["pay_rate_spread_usd"] == 0.0


def test_a_top_up_lifts_a_task_to_the_floor() -> None:
    # 90 s at $12/h is $0.30: $0.25 is below the floor, $0.25 + $0.05 top-up is not.
    low = Statement("w", 250_000, 90, 1, (_pay("t1", 250_000),))
    topped = Statement(
        "w", 300_000, 90, 1, (_pay("t1", 250_000), StatementLine("t1", "TOP_UP", 50_000, 0))
    )
    onboarding = Statement("w", 100_000, 600, 0, (StatementLine("", "ONBOARDING", 100_000, 600),))
    assert below_floor_payments([low], FLOOR) == 1
    assert below_floor_payments([topped], FLOOR) == 0
    assert below_floor_payments([onboarding], FLOOR) == 1  # $0.10 for 10 minutes


def test_load_diagnostics_sum_what_the_workers_saw() -> None:
    record = _record()
    record.workers[0].offers = 3
    record.workers[1].offers = 2
    record.workers[1].stream_errors["NOT_FOUND"] += 1
    load = build_report(record)["load"]
    assert load["offers"] == 5
    assert load["stream_errors"] == {"NOT_FOUND": 1}


def test_pool_figures_carry_the_pay_for_that_task_type_only() -> None:
    tasks = {"t1": _task("t1"), "t2": _task("t2", task_type="chat-rating", effort=60)}
    final = {"t1": FinalTask("SUBMITTED", "us-1"), "t2": FinalTask("SUBMITTED", "us-1")}
    statements = {
        "us-1": Statement("us-1", 700_000, 150, 2, (_pay("t1"), _pay("t2", 300_000, 60))),
    }
    report = build_report(_record(tasks=tasks, final=final, statements=statements))
    image = report["pools"]["image-label"]["regions"]["us"]
    chat = report["pools"]["chat-rating"]["regions"]["us"]
    assert (image["earnings_usd"], image["paid_seconds"]) == (0.4, 90)
    assert (chat["earnings_usd"], chat["effective_hourly_usd"]) == (0.3, 18.0)
    assert report["regions"]["us"]["earnings_usd"] == 0.7


def test_paid_onboarding_counts_in_the_report_and_the_hourly_rate() -> None:
    # 90 s of task work for $0.40 plus 10 minutes of onboarding paid $2.00 at the floor.
    onboarded = Statement(
        "us-1",
        2_400_000,
        690,
        1,
        (_pay("t1"), StatementLine("", "ONBOARDING", 2_000_000, 600)),
    )
    statements = {"us-1": onboarded, "ph-1": Statement("ph-1", 800_000, 180, 2, ())}
    report = build_report(_record(statements=statements))

    assert report["paid_onboarding_seconds"] == 600
    us = report["regions"]["us"]
    assert us["paid_onboarding_seconds"] == 600
    assert us["effective_hourly_usd"] == round(2.4 / (690 / 3600), 4)


def test_further_answers_count_as_their_workers_work_pay_and_accuracy() -> None:
    record = _record(
        copies={"t1#2": "t1", "t1#3": "t1", "t2#2": "t2"},
        truth={"t1": "label-A", "t2": "label-B"},
        answers={"t1": ["label-A", "label-B", "label-A"], "t2": ["label-B", "label-B"]},
        aggregates={"t1": ("label-A", 3, True), "t2": ("label-B", 2, True)},
    )
    ph = next(w for w in record.workers if w.profile.worker_id == "ph-1")
    ph.submit_sent_at["t1#2"] = NOON
    record.statements["ph-1"] = Statement(
        "ph-1", 1_200_000, 270, 3, (_pay("t2"), _pay("t3"), _pay("t1#2"))
    )

    report = build_report(record)

    # The copy's work and pay are the ph worker's, in t1's pool; counts stay per platform task.
    assert report["tasks_completed"] == 3
    assert report["regions"]["ph"]["tasks_completed"] == 3
    assert report["pools"]["image-label"]["regions"]["ph"]["earnings_usd"] == 1.2
    assert report["pay_rate_spread_usd"] == 0
    assert report["answers"] == {
        "tasks_asking_several": 2,
        "aggregated_and_released": 2,
        "confident": 2,
        "mean_answers": 2.5,
        "answers_by_count": {2: 1, 3: 1},
        "single_answer_accuracy": 0.8,
        "aggregate_accuracy": 1.0,
    }
