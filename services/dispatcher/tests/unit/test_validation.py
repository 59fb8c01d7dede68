"""Input rules: every problem is reported, each under the field that has it."""

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dispatcher.domain.model import NewTask, TaskType
from dispatcher.domain.validation import (
    Limits,
    batch_violations,
    fingerprint,
    task_type_violations,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = Limits()
PURPOSE = "Lab A trains a model that finds cars in street photos"
KNOWN = {
    "bbox": TaskType("bbox", PURPOSE, 400_000, 90),
    "transcribe": TaskType("transcribe", PURPOSE, 900_000, 600, ("audio",)),
}
TASK_FIELD = re.compile(
    r"^tasks\[(\d+)\]\.(client_task_id|task_type|payload|gold_answer|deadline)$"
)

client_ids = st.text(min_size=1, max_size=LIMITS.max_client_id_chars).filter(lambda s: s.strip())


def valid_deadline(task_type: str) -> st.SearchStrategy[datetime | None]:
    effort = KNOWN[task_type].effort_seconds
    ahead = st.integers(effort, int(LIMITS.max_deadline_ahead.total_seconds()))
    return st.none() | ahead.map(lambda s: NOW + timedelta(seconds=s))


@st.composite
def valid_task(draw: st.DrawFn, client_task_id: str) -> NewTask:
    task_type = draw(st.sampled_from(sorted(KNOWN)))
    return NewTask(
        client_task_id=client_task_id,
        task_type=task_type,
        payload=draw(st.binary(max_size=2048)),
        deadline=draw(valid_deadline(task_type)),
        gold_answer=draw(st.text(max_size=LIMITS.max_gold_chars)),
    )


@st.composite
def valid_batch(draw: st.DrawFn) -> list[NewTask]:
    names = draw(st.lists(client_ids, min_size=1, max_size=20, unique=True))
    return [draw(valid_task(name)) for name in names]


@st.composite
def any_task(draw: st.DrawFn) -> NewTask:
    deadline_s = st.integers(-(10**6), 200 * 86_400).map(lambda s: NOW + timedelta(seconds=s))
    return NewTask(
        client_task_id=draw(st.text(max_size=LIMITS.max_client_id_chars + 5)),
        task_type=draw(st.sampled_from([*KNOWN, "unknown", ""])),
        payload=draw(st.sampled_from([b"", b"x", b"x" * (LIMITS.max_payload_bytes + 1)])),
        deadline=draw(st.none() | deadline_s),
        gold_answer=draw(st.sampled_from(["", "cat", "g" * (LIMITS.max_gold_chars + 1)])),
    )


@given(valid_batch())
def test_a_valid_batch_has_no_violations(tasks: list[NewTask]) -> None:
    assert batch_violations(tasks, KNOWN, NOW, LIMITS) == []


@given(st.lists(any_task(), min_size=1, max_size=20))
def test_every_violation_names_a_field_of_one_task(tasks: list[NewTask]) -> None:
    for violation in batch_violations(tasks, KNOWN, NOW, LIMITS):
        match = TASK_FIELD.match(violation.field)
        assert match is not None, violation
        assert int(match[1]) < len(tasks)
        assert violation.problem


@given(st.lists(any_task(), min_size=1, max_size=10))
def test_a_task_is_faulted_alone_exactly_when_it_is_faulted_in_a_batch(
    tasks: list[NewTask],
) -> None:
    in_batch = batch_violations(tasks, KNOWN, NOW, LIMITS)
    for i, task in enumerate(tasks):
        alone = {
            (v.field.removeprefix("tasks[0]"), v.problem)
            for v in batch_violations([task], KNOWN, NOW, LIMITS)
        }
        mine = {
            (v.field.removeprefix(f"tasks[{i}]"), v.problem)
            for v in in_batch
            if v.field.startswith(f"tasks[{i}].") and v.problem != "repeated within this batch"
        }
        assert mine == alone


def one(**changes: object) -> list[tuple[str, str]]:
    fields: dict[str, object] = {"client_task_id": "c1", "task_type": "bbox", "payload": b"x"}
    fields.update(changes)
    task = NewTask(**fields)  # type: ignore[arg-type]
    return [(v.field, v.problem) for v in batch_violations([task], KNOWN, NOW, LIMITS)]


def test_each_problem_of_a_task_is_reported_separately() -> None:
    task = NewTask(
        client_task_id=" ",
        task_type="unknown",
        payload=b"x" * (LIMITS.max_payload_bytes + 1),
        deadline=NOW - timedelta(seconds=1),
        gold_answer="g" * (LIMITS.max_gold_chars + 1),
    )

    fields = [v.field for v in batch_violations([task], KNOWN, NOW, LIMITS)]

    assert sorted(fields) == sorted(
        [
            "tasks[0].client_task_id",
            "tasks[0].task_type",
            "tasks[0].payload",
            "tasks[0].gold_answer",
            "tasks[0].deadline",
        ]
    )


def test_payload_limit_is_inclusive() -> None:
    assert one(payload=b"x" * LIMITS.max_payload_bytes) == []
    assert [f for f, _ in one(payload=b"x" * (LIMITS.max_payload_bytes + 1))] == [
        "tasks[0].payload"
    ]


def test_deadline_boundaries() -> None:
    effort = timedelta(seconds=KNOWN["bbox"].effort_seconds)
    assert one(deadline=NOW) == [("tasks[0].deadline", "is in the past")]
    assert one(deadline=NOW + effort - timedelta(seconds=1)) == [
        ("tasks[0].deadline", "leaves less time than the task's effort")
    ]
    assert one(deadline=NOW + effort) == []
    assert one(deadline=NOW + LIMITS.max_deadline_ahead) == []
    assert one(deadline=NOW + LIMITS.max_deadline_ahead + timedelta(seconds=1)) == [
        ("tasks[0].deadline", "more than 90 days ahead")
    ]


def test_client_id_length_limit() -> None:
    assert one(client_task_id="c" * LIMITS.max_client_id_chars) == []
    assert [f for f, _ in one(client_task_id="c" * (LIMITS.max_client_id_chars + 1))] == [
        "tasks[0].client_task_id"
    ]


def test_a_repeated_client_id_is_reported_at_each_repeat() -> None:
    tasks = [NewTask("c1", "bbox", b"a"), NewTask("c2", "bbox", b"b"), NewTask("c1", "bbox", b"a")]

    violations = batch_violations(tasks, KNOWN, NOW, LIMITS)

    assert [(v.field, v.problem) for v in violations] == [
        ("tasks[2].client_task_id", "repeated within this batch")
    ]


def test_empty_and_oversized_batches_are_refused_as_a_whole() -> None:
    too_many = [NewTask(f"c{i}", "bbox", b"") for i in range(LIMITS.max_batch + 1)]

    assert [v.field for v in batch_violations([], KNOWN, NOW, LIMITS)] == ["tasks"]
    assert [v.field for v in batch_violations(too_many, KNOWN, NOW, LIMITS)] == ["tasks"]
    assert batch_violations(too_many[:-1], KNOWN, NOW, LIMITS) == []


task_type_names = st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,62}\Z")
skills = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,31}\Z")


@given(
    name=task_type_names,
    purpose=st.text(min_size=LIMITS.min_purpose_chars, max_size=200).filter(
        lambda p: len(p.strip()) >= LIMITS.min_purpose_chars
    ),
    price=st.integers(1, LIMITS.max_price_micros),
    effort=st.integers(1, LIMITS.max_effort_seconds),
    required=st.lists(skills, max_size=5).map(tuple),
)
def test_a_valid_task_type_has_no_violations(
    name: str, purpose: str, price: int, effort: int, required: tuple[str, ...]
) -> None:
    task_type = TaskType(name, purpose, price, effort, required)

    assert task_type_violations(task_type, LIMITS) == []


@given(
    name=st.text(max_size=70),
    purpose=st.text(max_size=60),
    price=st.integers(-(10**12), 10**12),
    effort=st.integers(-(10**6), 10**6),
    required=st.lists(st.text(max_size=40), max_size=4).map(tuple),
)
def test_every_task_type_violation_names_its_field(
    name: str, purpose: str, price: int, effort: int, required: tuple[str, ...]
) -> None:
    fields = re.compile(r"^task_type\.(name|purpose|price_micros|effort_seconds|skills\[\d+\])$")
    for violation in task_type_violations(TaskType(name, purpose, price, effort, required), LIMITS):
        assert fields.match(violation.field), violation


def test_task_type_violations_one_per_problem() -> None:
    bad = TaskType("Bad Name", "  short  ", 0, -5, ("ok", "Not OK"))

    fields = [v.field for v in task_type_violations(bad, LIMITS)]

    assert fields == [
        "task_type.name",
        "task_type.purpose",
        "task_type.price_micros",
        "task_type.effort_seconds",
        "task_type.skills[1]",
    ]


def test_absurd_effort_and_price_are_refused() -> None:
    absurd = TaskType("bbox", PURPOSE, LIMITS.max_price_micros + 1, LIMITS.max_effort_seconds + 1)

    fields = [v.field for v in task_type_violations(absurd, LIMITS)]

    assert fields == ["task_type.price_micros", "task_type.effort_seconds"]


@given(valid_task("c1"), valid_task("c1"))
def test_fingerprints_differ_exactly_when_content_differs(a: NewTask, b: NewTask) -> None:
    assert (fingerprint(a) == fingerprint(b)) == (a == b)
