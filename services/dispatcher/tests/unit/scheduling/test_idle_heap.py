"""A crew's heap of idle workers holds about as many entries as it has idle workers, even when
no pool here ever pops it (a replica knows every worker but schedules only its own pools)."""

from dispatcher.domain.scheduling.exposure import Exposure
from dispatcher.domain.scheduling.policy import Window, WorkerProfile
from dispatcher.domain.scheduling.pools import Crew, Worker


def worker(worker_id: str, crew: Crew) -> Worker:
    profile = WorkerProfile(
        worker_id=worker_id, region="ke", utc_offset_s=0, windows=(Window(0, 1440),)
    )
    return Worker(profile, Exposure(), crew, online=True, eligible=True)


def test_stale_entries_are_dropped_as_the_heap_grows() -> None:
    crew = Crew("ke", frozenset(), False, frozenset())
    waiting = worker("w-waiting", crew)
    crew.push(waiting)
    reconnecting = worker("w-reconnecting", crew)
    for _ in range(10_000):  # a worker whose every reconnection pushes an entry
        reconnecting.epoch += 1
        crew.push(reconnecting)

    assert len(crew.idle) <= 2 * 64
    top = crew.top()
    assert top is not None
    assert top.worker is waiting  # the idle workers are all still there
    assert {
        entry.worker.profile.worker_id for entry in crew.idle if entry.epoch == entry.worker.epoch
    } == {
        "w-waiting",
        "w-reconnecting",
    }
