"""The chaos audit's reading of events and statements: what counts as two leases at once, and
as a duplicate or missing payment; redeliveries count once."""

from fairtask.v1 import envelope_pb2, events_pb2
from fairtask_demo.chaos.audit import audit_answers, audit_leases, audit_payments, owed_tasks
from fairtask_demo.chaos.faults import Fault, count_by_kind
from fairtask_demo.model import Statement, StatementLine
from fairtask_runtime.envelope import wrap

TASKS = {"t1": object(), "t2": object()}


def assigned(task: str, lease: str) -> envelope_pb2.Envelope:
    return wrap(events_pb2.TaskAssigned(task_id=task, lease_id=lease, worker_id="w"), "test")


def released(task: str, lease: str) -> envelope_pb2.Envelope:
    return wrap(events_pb2.LeaseReleased(task_id=task, lease_id=lease, worker_id="w"), "test")


def answered(task: str, lease: str) -> envelope_pb2.Envelope:
    return wrap(events_pb2.SubmissionReceived(task_id=task, lease_id=lease), "test")


def test_leases_one_after_another_are_fine_and_redeliveries_count_once() -> None:
    events = [
        assigned("t1", "a"),
        released("t1", "a"),
        assigned("t1", "b"),
        assigned("t1", "b"),  # redelivered
        assigned("t2", "c"),
    ]
    audit = audit_leases(events, [answered("t1", "b"), answered("t1", "b")], TASKS)
    assert (audit.leases, audit.double_leases) == (3, 0)


def test_a_second_lease_while_the_first_is_open_is_a_double_lease() -> None:
    audit = audit_leases([assigned("t1", "a"), assigned("t1", "b")], [], TASKS)
    assert (audit.double_leases, audit.examples) == (1, ("t1",))


def test_a_lease_after_a_submitted_one_is_not_counted_twice_at_once() -> None:
    audit = audit_leases([assigned("t1", "a"), assigned("t1", "b")], [answered("t1", "a")], TASKS)
    assert audit.double_leases == 0


def test_answers_from_two_leases_are_a_double_lease() -> None:
    audit = audit_leases([], [answered("t2", "a"), answered("t2", "b")], TASKS)
    assert audit.double_leases == 1


def test_tasks_of_other_runs_are_left_out() -> None:
    audit = audit_leases([assigned("x", "a"), assigned("x", "b")], [], TASKS)
    assert (audit.leases, audit.double_leases) == (0, 0)


def statement(worker: str, *lines: tuple[str, str]) -> Statement:
    return Statement(
        worker, 0, 0, 0, tuple(StatementLine(task, kind, 100, 10) for task, kind in lines)
    )


def test_payments_each_task_once_across_workers() -> None:
    statements = {
        "w1": statement("w1", ("t1", "TASK_PAY"), ("t2", "TIME_WORKED")),
        "w2": statement("w2", ("t1", "TASK_PAY"), ("t3", "TASK_PAY")),
    }
    audit = audit_payments(statements, ["t1", "t2", "t3"])
    # t1 paid to two workers; t2 has only time worked, no task pay.
    assert (audit.duplicate_payments, audit.missing_payments) == (1, 1)
    assert audit.examples == ("t1 paid 2 times", "t2 never paid")


def test_faults_are_counted_by_kind() -> None:
    faults = [Fault("kill_redis", 1.0, 0.2, 1.0), Fault("kill_dispatcher", 9.0, 3.0, 3.5)]
    faults.append(Fault("kill_redis", 20.0, None, None))
    assert count_by_kind(faults) == {"kill_dispatcher": 1, "kill_redis": 2}


def _step(task_id: str, state: int, paid: bool) -> envelope_pb2.Envelope:
    return wrap(
        events_pb2.SubmissionReviewed(
            submission_id=f"s-{task_id}", task_id=task_id, state=state, paid=paid
        ),
        producer="test",
    )


def test_work_is_owed_unless_its_rejection_stands_unpaid() -> None:
    steps = [
        _step("approved", events_pb2.REVIEW_STATE_PENDING, False),
        _step("approved", events_pb2.REVIEW_STATE_APPROVED, True),
        _step("kept", events_pb2.REVIEW_STATE_REJECTED, True),
        _step("kept", events_pb2.REVIEW_STATE_APPEALED, True),
        _step("rejected", events_pb2.REVIEW_STATE_REJECTED, False),
        _step("upheld", events_pb2.REVIEW_STATE_APPEALED, False),
        _step("upheld", events_pb2.REVIEW_STATE_APPEAL_UPHELD, False),
        _step("granted", events_pb2.REVIEW_STATE_APPEALED, False),
        _step("granted", events_pb2.REVIEW_STATE_APPEAL_GRANTED, True),
        _step("waiting", events_pb2.REVIEW_STATE_PENDING, False),
    ]
    submitted = ["approved", "kept", "rejected", "upheld", "granted", "waiting", "unreviewed"]
    assert owed_tasks(steps, submitted) == {"approved", "kept", "granted", "waiting", "unreviewed"}


def wanted(task: str, copy: str) -> envelope_pb2.Envelope:
    return wrap(events_pb2.AnswerWanted(task_id=task, answer_task_id=copy), "test")


def queued(task: str) -> envelope_pb2.Envelope:
    return wrap(events_pb2.TaskSubmitted(task_id=task), "test")


def aggregated(task: str) -> envelope_pb2.Envelope:
    return wrap(events_pb2.AnswersAggregated(task_id=task), "test")


def test_further_answers_are_followed_to_the_stage_they_stopped_at() -> None:
    overlap = [
        wanted("t1", "t1#2"),
        aggregated("t1"),
        wanted("t2", "t2#2"),  # never queued
        wanted("t3", "t3#2"),  # queued, never answered
        wanted("t3", "t3#2"),  # asked again (a redelivery): one copy
    ]
    audit = audit_answers(
        overlap,
        [queued("t1#2"), queued("t3#2")],
        [answered("t1", "a"), answered("t1#2", "b")],
        several={"t1", "t2", "t3", "t4"},
    )
    assert (audit.asked, audit.never_queued, audit.never_answered) == (3, 1, 1)
    # t4 got its first answer and nothing since; t2 and t3 are counted where they stopped.
    assert audit.never_aggregated == 1
    assert audit.examples[-1] == "t4: answered, never aggregated"
