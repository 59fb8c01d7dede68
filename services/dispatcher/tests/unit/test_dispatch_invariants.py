"""Random sequences of worker, platform and timer actions never break the dispatch invariants."""

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import Coroutine
from typing import Any, TypeVar

from dispatcher_world import CONFIG, World, drain, hello, make_task
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from dispatcher.domain.errors import AlreadyDoneError, ConflictError, NotFoundError
from dispatcher.domain.model import Task
from dispatcher.service_layer.sessions import WorkerSession

T = TypeVar("T")
WORKERS = ("w0", "w1", "w2", "w3")
SKILLS = {"w0": ("audio",), "w1": ("audio", "vision"), "w2": (), "w3": ("vision",)}
workers = st.sampled_from(WORKERS)


class DispatchMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.world = World()
        self.dispatch = self.world.dispatch
        self.tasks: list[Task] = []
        self.counter = itertools.count()

    def teardown(self) -> None:
        self.loop.close()

    def run(self, step: Coroutine[Any, Any, T]) -> T:
        result = self.loop.run_until_complete(step)
        # What run_dispatch does whenever something wakes it.
        while self.dispatch._wake.is_set():
            self.dispatch._wake.clear()
            self.loop.run_until_complete(self.dispatch._dispatch_round())
        for worker_id in WORKERS:  # keep outboxes from filling up, as a transport would
            session = self.dispatch.session(worker_id)
            if session is not None:
                drain(session)
        return result

    def session(self, worker_id: str) -> WorkerSession | None:
        return self.dispatch.session(worker_id)

    # -- actions ---------------------------------------------------------------------------
    @initialize(tasks=st.lists(st.sampled_from(["bbox", "transcribe"]), max_size=6))
    def busy_start(self, tasks: list[str]) -> None:
        """Starts with everyone connected and some work queued, so offers happen early."""
        for worker_id in WORKERS:
            self.connect(worker_id)
        for kind in tasks:
            self.ingest(kind)

    @rule(worker_id=workers)
    def connect(self, worker_id: str) -> None:
        self.run(self.dispatch.connect(hello(worker_id, SKILLS[worker_id])))

    @rule(worker_id=workers)
    def disconnect(self, worker_id: str) -> None:
        session = self.session(worker_id)
        if session is not None:
            self.run(self.dispatch.disconnect(session))

    @rule(kind=st.sampled_from(["bbox", "transcribe"]))
    def ingest(self, kind: str) -> None:
        skills = ("audio",) if kind == "transcribe" else ()
        task = make_task(f"c{next(self.counter)}", kind, skills)
        self.tasks.append(task)
        self.run(self.dispatch.ingest(task))

    @rule(worker_id=workers, someone_else=st.none() | workers)
    def accept(self, worker_id: str, someone_else: str | None) -> None:
        owner = someone_else or worker_id
        session, owner_session = self.session(worker_id), self.session(owner)
        if session is None or owner_session is None or owner_session.offer_id is None:
            return
        offer_id = owner_session.offer_id
        try:
            self.run(self.dispatch.accept(session, offer_id))
        except NotFoundError:
            assert worker_id != owner
        except ConflictError:
            assert worker_id == owner  # the offer expired before the timer closed it
        else:
            assert worker_id == owner
            assert session.lease_id is not None

    @rule(worker_id=workers)
    def decline(self, worker_id: str) -> None:
        session = self.session(worker_id)
        if session is not None and session.offer_id is not None:
            self.run(self.dispatch.decline(session, session.offer_id))

    @rule(worker_id=workers, draft=st.binary(max_size=8))
    def heartbeat(self, worker_id: str, draft: bytes) -> None:
        session = self.session(worker_id)
        if session is not None and session.lease_id is not None:
            self.run(self.dispatch.heartbeat(session, session.lease_id, draft))

    @rule(worker_id=workers)
    def submit(self, worker_id: str) -> None:
        session = self.session(worker_id)
        if session is not None and session.lease_id is not None:
            lease_id = session.lease_id
            self.run(self.dispatch.submit(session, lease_id, b"answer"))
            try:
                self.run(self.dispatch.submit(session, lease_id, b"answer"))
            except AlreadyDoneError:
                pass
            else:
                raise AssertionError("a lease was submitted twice")

    @precondition(lambda self: bool(self.tasks))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        task = data.draw(st.sampled_from(self.tasks))
        with contextlib.suppress(ConflictError):  # leased or submitted: refused, as it must be
            self.run(self.world.platform.cancel_task(task.platform_id, task.task_id, "changed"))

    @rule(seconds=st.sampled_from([1, 30, CONFIG.offer_ttl_s, CONFIG.grace_s]))
    def tick(self, seconds: float) -> None:
        self.world.clock.advance(seconds)

    @rule()
    def timers(self) -> None:
        self.run(self.dispatch._expire_offers())
        self.run(self.dispatch._release_overdue_leases())

    # -- invariants ------------------------------------------------------------------------
    @invariant()
    def no_task_or_worker_has_two_offers(self) -> None:
        offers = self.world.store.outstanding_offers()
        assert max(Counter(task for _, task, _ in offers).values(), default=0) <= 1
        assert max(Counter(worker for _, _, worker in offers).values(), default=0) <= 1

    @invariant()
    def no_task_is_leased_twice_or_offered_while_leased(self) -> None:
        leases = self.run(self.world.store.active_leases())
        leased_tasks = Counter(lease.task.task_id for lease in leases)
        assert max(leased_tasks.values(), default=0) <= 1
        assert max(Counter(lease.worker_id for lease in leases).values(), default=0) <= 1
        offered_tasks = {task for _, task, _ in self.world.store.outstanding_offers()}
        assert not offered_tasks & set(leased_tasks)

    @invariant()
    def sessions_agree_with_the_store(self) -> None:
        offers = {
            (offer_id, worker) for offer_id, _, worker in self.world.store.outstanding_offers()
        }
        shown = set()
        for worker_id in WORKERS:
            session = self.session(worker_id)
            if session is None:
                continue
            assert session.open
            if session.offer_id is not None:
                shown.add((session.offer_id, worker_id))
            lease = self.run(self.world.store.lease_of(worker_id))
            assert session.lease_id == (lease.lease_id if lease else None)
        # Every outstanding offer is on a connected worker's screen, and only there.
        assert offers == shown

    @invariant()
    def every_idle_worker_is_queued_once(self) -> None:
        # The policy's view: each free, connected worker is waiting for work exactly once.
        queued = list(self.world.policy._idle)
        assert len(queued) == len(set(queued))
        for worker_id in WORKERS:
            session = self.session(worker_id)
            if session is not None and session.idle:
                assert worker_id in queued


DispatchMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
test_dispatch_invariants = DispatchMachine.TestCase
