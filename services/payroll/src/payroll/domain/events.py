"""Events payroll announces."""

from dataclasses import dataclass
from datetime import datetime

from payroll.domain.model import EntryKind, Posting


@dataclass(frozen=True)
class EntryPosted:
    """A balanced posting is in the ledger. `entry_id` is stable across re-announcements,
    so downstream consumers deduplicate on it."""

    entry_id: str
    worker_id: str
    region: str
    kind: EntryKind
    amount_micros: int
    paid_seconds: int
    source_event_id: str
    posted_at: datetime


def entry_posted(posting: Posting) -> EntryPosted:
    return EntryPosted(
        entry_id=posting.entry_id,
        worker_id=posting.worker_id,
        region=posting.region,
        kind=posting.kind,
        amount_micros=posting.amount_micros,
        paid_seconds=posting.paid_seconds,
        source_event_id=posting.source_event_id,
        posted_at=posting.posted_at,
    )
