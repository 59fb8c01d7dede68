"""Auditing the dispatcher's events: each task's offers and leases, walked in the order Kafka
keeps for the task (its key), must tell one consistent story ending in one submission.

Imported as a plain module (conftest.py puts this folder on sys.path).
"""

from fairtask.v1 import envelope_pb2


def audit(
    assigned: list[envelope_pb2.Envelope],
    submissions: list[envelope_pb2.Envelope],
    task_ids: list[str],
) -> list[str]:
    """What is wrong: a task offered twice at once, leased twice at once, left with an
    outstanding offer, or not submitted exactly once; a submission with no lease on record."""
    problems: list[str] = []
    submitted: dict[str, set[str]] = {}
    submitted_lease: dict[str, str] = {}
    for envelope in submissions:
        received = envelope.submission_received
        submitted.setdefault(received.task_id, set()).add(received.submission_id)
        submitted_lease[received.task_id] = received.lease_id
    offered: dict[str, str] = {}  # task -> its outstanding offer
    leased: dict[str, str] = {}  # task -> its active lease
    leases: set[str] = set()
    for envelope in assigned:
        kind = envelope.WhichOneof("payload")
        if kind == "task_offered":
            offer = envelope.task_offered
            if offer.task_id in offered or offer.task_id in leased:
                problems.append(f"{offer.task_id}: offered again while offered or leased")
            offered[offer.task_id] = offer.offer_id
        elif kind == "offer_closed":
            closed = envelope.offer_closed
            if offered.pop(closed.task_id, None) != closed.offer_id:
                problems.append(f"{closed.task_id}: closed {closed.offer_id}, not outstanding")
        elif kind == "task_assigned":
            lease = envelope.task_assigned
            if offered.pop(lease.task_id, None) != lease.offer_id:
                problems.append(f"{lease.task_id}: leased from {lease.offer_id}, not outstanding")
            if lease.task_id in leased:
                problems.append(f"{lease.task_id}: leased to two workers at once")
            leased[lease.task_id] = lease.lease_id
            leases.add(lease.lease_id)
        elif kind == "lease_released":
            released = envelope.lease_released
            if leased.pop(released.task_id, None) != released.lease_id:
                problems.append(f"{released.task_id}: released {released.lease_id}, not held")
    for task_id in task_ids:
        if len(submitted.get(task_id, ())) != 1:
            problems.append(f"{task_id}: {len(submitted.get(task_id, ()))} submissions")
        if task_id in offered:
            problems.append(f"{task_id}: an offer left outstanding")
        if leased.get(task_id) != submitted_lease.get(task_id):
            problems.append(f"{task_id}: the lease on record is not the one submitted")
    problems += [f"submission of {lease} with no lease on record"
                 for lease in submitted_lease.values() if lease not in leases]  # fmt: skip
    return problems
