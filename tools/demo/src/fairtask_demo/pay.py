"""Pay figures from worker statements: the same-work-same-pay spread and the pay floor."""

from collections import defaultdict
from collections.abc import Iterable, Mapping

from fairtask_demo.model import Statement, SubmittedTask


def pay_per_task(statement: Statement) -> dict[str, tuple[int, int]]:
    """(amount_micros, paid_seconds) per task id, summing task pay, top-ups and time worked."""
    totals: dict[str, tuple[int, int]] = {}
    for line in statement.lines:
        if not line.task_id:
            continue
        amount, seconds = totals.get(line.task_id, (0, 0))
        totals[line.task_id] = (amount + line.amount_micros, seconds + line.paid_seconds)
    return totals


def onboarding_seconds(statement: Statement) -> int:
    """Seconds of qualification, training and instructions the worker was paid for."""
    return sum(line.paid_seconds for line in statement.lines if line.kind == "ONBOARDING")


def below_floor_payments(statements: Iterable[Statement], floor_micros_per_hour: int) -> int:
    """Payments under the floor for the time they pay for.

    A task's lines are judged together (a top-up exists precisely to lift task pay to the
    floor); a line without a task (onboarding) is judged alone. Lines with no paid time say
    nothing about an hourly rate and are skipped.
    """
    count = 0
    for statement in statements:
        judged = list(pay_per_task(statement).values())
        judged += [(ln.amount_micros, ln.paid_seconds) for ln in statement.lines if not ln.task_id]
        count += sum(
            1
            for amount, seconds in judged
            if seconds > 0 and amount * 3600 < floor_micros_per_hour * seconds
        )
    return count


def pay_rate_spread_usd(
    statements: Mapping[str, Statement],
    region_of: Mapping[str, str],
    tasks: Mapping[str, SubmittedTask],
) -> float:
    """Largest gap, over task types, between regions' mean pay per paid task of that type.

    One price worldwide means this is 0; only this run's tasks count.
    """
    paid: dict[tuple[str, str], list[int]] = defaultdict(list)
    for worker_id, statement in statements.items():
        region = region_of.get(worker_id)
        if region is None:
            continue
        for task_id, (amount, _) in pay_per_task(statement).items():
            task = tasks.get(task_id)
            if task is not None:
                paid[(task.task_type, region)].append(amount)
    means: dict[str, list[float]] = defaultdict(list)
    for (task_type, _), amounts in paid.items():
        means[task_type].append(sum(amounts) / len(amounts))
    spread_micros = max((max(m) - min(m) for m in means.values()), default=0.0)
    return round(spread_micros / 1_000_000, 6)
