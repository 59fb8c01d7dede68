"""The chaos run's verdict: faults injected by kind, and what held."""

import dataclasses
from typing import Any

from fairtask_demo.chaos.audit import AnswerAudit, LeaseAudit, PaymentAudit
from fairtask_demo.chaos.faults import Faults, count_by_kind


def chaos_report(
    faults: Faults,
    run: dict[str, Any],
    leases: LeaseAudit,
    payments: PaymentAudit,
    unfinished_tasks: list[str],
    answers: AnswerAudit,
) -> dict[str, Any]:
    injected = faults.injected
    recoveries = [f.recovery_s for f in injected if f.recovery_s is not None]
    resumed = [f.work_resumed_s for f in injected if f.work_resumed_s is not None]
    recovered = all(f.recovery_s is not None for f in injected)
    figures = {
        "tasks_lost": run["tasks_lost"],
        # Neither completed, cancelled nor expired once the load has drained: not done either.
        "tasks_pending_at_end": run["tasks_pending_at_end"],
        "double_leases": leases.double_leases,
        "duplicate_payments": payments.duplicate_payments,
        "missing_payments": payments.missing_payments,
        # A further answer scoring asked for that the dispatcher never queued, or that no
        # worker answered once the run drained: lost on the way.
        "answers_never_queued": answers.never_queued,
        "answers_never_answered": answers.never_answered,
        # Answered, never settled: the run drains until each such task has its aggregate.
        "tasks_never_aggregated": answers.never_aggregated,
    }
    return {
        "seed": faults.plan.seed,
        "plan": dataclasses.asdict(faults.plan),
        "duration_s": run["duration_s"],
        "faults_total": len(injected),
        "faults_injected": count_by_kind(injected),
        "tasks_submitted": run["tasks_submitted"],
        "tasks_completed": run["tasks_completed"],
        "tasks_by_state": run["tasks_by_state"],
        **figures,
        "leases": leases.leases,
        "answers_asked": answers.asked,
        "ledger_balanced": run["ledger_balanced"],
        "services_recovered": recovered,
        "max_recovery_s": max(recoveries, default=None),
        "max_work_resumed_s": max(resumed, default=None),
        "unexpected_exits": list(faults.unexpected_exits),
        "examples": {
            "unfinished_tasks": unfinished_tasks[:10],
            "leases": list(leases.examples),
            "payments": list(payments.examples),
            "answers": list(answers.examples),
        },
        "passed": (
            all(value == 0 for value in figures.values())
            and run["ledger_balanced"] is True
            and recovered
            and bool(injected)
        ),
        "faults": [dataclasses.asdict(f) for f in injected],
        "run": {
            key: run[key]
            for key in ("completed", "errors", "submit_failures", "results_released", "ledger")
            if key in run
        },
    }


def chaos_text(report: dict[str, Any]) -> str:
    kinds = ", ".join(f"{k} {n}" for k, n in report["faults_injected"].items())
    lines = [
        f"chaos: {report['faults_total']} faults ({kinds or 'none'})",
        f"  tasks submitted {report['tasks_submitted']}, completed {report['tasks_completed']}, "
        f"pending at end {report['tasks_pending_at_end']}, lost {report['tasks_lost']}",
        f"  double leases {report['double_leases']} (of {report['leases']} leases); payments: "
        f"duplicate {report['duplicate_payments']}, missing {report['missing_payments']}; "
        f"ledger balanced {report['ledger_balanced']}",
        f"  services recovered {report['services_recovered']} (max {report['max_recovery_s']} s; "
        f"work resumed within {report['max_work_resumed_s']} s); "
        f"unexpected exits {len(report['unexpected_exits'])}",
        f"  further answers asked {report['answers_asked']}: never queued "
        f"{report['answers_never_queued']}, never answered {report['answers_never_answered']}; "
        f"tasks never aggregated {report['tasks_never_aggregated']}",
        f"  {'PASSED' if report['passed'] else 'FAILED'}",
    ]
    examples = report["examples"]
    for task in examples["unfinished_tasks"]:
        lines.append(f"  unfinished: {task}")
    for example in examples["leases"] + examples["payments"] + examples["answers"]:
        lines.append(f"  e.g. {example}")
    return "\n".join(lines)
