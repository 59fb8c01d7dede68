"""Which pools this replica schedules, and the policy that holds their tasks.

Replicas form one Kafka consumer group on tasks.submitted, which is keyed by pool: each owns the
pools of the partitions the group gives it. A pool gained is loaded from the store into the
policy; when pools leave, the policy is rebuilt from the store without them (a policy cannot
give a task back). Offers never depend on ownership being exact: the store refuses any offer
of a task already offered, so two replicas briefly holding one pool cannot both offer its tasks.
"""

import asyncio
from collections.abc import Callable

import structlog

from dispatcher import metrics
from dispatcher.domain.model import Task
from dispatcher.domain.scheduling.policy import DispatchPolicy
from dispatcher.domain.scheduling.recent_ids import RecentIds
from dispatcher.domain.scheduling.states import FINISHED_KEPT
from dispatcher.service_layer.ports import TaskStore
from dispatcher.service_layer.profiles import task_spec
from dispatcher.service_layer.roster import Roster
from fairtask_runtime.clock import Clock

log = structlog.get_logger(__name__)


class Ownership:
    def __init__(
        self,
        store: TaskStore,
        clock: Clock,
        new_policy: Callable[[], DispatchPolicy],
        replica_id: str,
        every_pool: bool,
        wake: Callable[[], None],
    ) -> None:
        self._store = store
        self._clock = clock
        self._new_policy = new_policy
        self._replica_id = replica_id
        self._wake = wake
        self._generation = 0
        self.roster = Roster(new_policy(), self._by(), wake)
        # Partitions of tasks.submitted whose pools are ours; None: all of them (a lone one).
        self._owned: frozenset[int] | None = None if every_pool else frozenset()
        self._pool_partition: Callable[[str], int] = lambda pool: 0
        # Cancelled in this policy because another policy offered them first: requeued, they
        # need a new policy. The latest FINISHED_KEPT, oldest first: an older one is no longer
        # among the finished tasks the policy refuses, so submitting it again works.
        self._dropped = RecentIds(FINISHED_KEPT)
        self._rebuild_wanted = False
        self.paused = False
        # Held for a whole dispatch round, so that ownership changes between rounds only.
        self.round = asyncio.Lock()

    def owns(self, pool: str) -> bool:
        return self._owned is None or self._pool_partition(pool) in self._owned

    def _by(self) -> str:
        return f"{self._replica_id}/{self._generation}"

    def requeued(self, task: Task) -> None:
        """The task is queued again in the store; the policy of its pool's owner takes it
        (again: submitting is idempotent)."""
        if not self.owns(task.pool):
            return
        if task.task_id in self._dropped:
            self._rebuild_wanted = True
        else:
            self.roster.policy.submit(task_spec(task), self._clock.now().timestamp())
        self._wake()

    def dropped(self, task_id: str) -> None:
        self._dropped.add(task_id)

    def diverged(self) -> None:
        """A change to the store failed without saying whether it was made (Redis restarting
        mid-call): the policy may believe what the store does not (a task offered, or not yet
        queued), so it is rebuilt from the store, the truth, at the next timer round."""
        self._rebuild_wanted = True

    async def pause(self) -> None:
        """No offers (after the round in progress) until `own` says which pools are ours."""
        async with self.round:
            self.paused = True

    async def own(self, partitions: frozenset[int], pool_partition: Callable[[str], int]) -> None:
        """The pools of these partitions are this replica's to schedule from now on."""
        async with self.round:
            before = self._owned
            self._owned, self._pool_partition = partitions, pool_partition
            try:
                if before is not None and before <= partitions:
                    gained = partitions - before
                    await self._load(lambda pool: pool_partition(pool) in gained)
                else:
                    await self._rebuild()
            except BaseException:
                # Cut short (the store failing, or cancelled with a stalled consumer): the
                # next timer round loads everything owned, not only what a later call gains.
                self._rebuild_wanted = True
                raise
            self.paused = False
        for partition in before or ():
            metrics.SCHEDULED_PARTITIONS.labels(str(partition)).set(0)
        for partition in partitions:
            metrics.SCHEDULED_PARTITIONS.labels(str(partition)).set(1)
        log.info("scheduling pools", partitions=sorted(partitions), replica=self._replica_id)
        self._wake()

    async def rebuild_if_wanted(self) -> None:
        if self._rebuild_wanted:
            async with self.round:
                await self._rebuild()

    async def _rebuild(self) -> None:
        self._generation += 1
        self._dropped.clear()
        self.roster.rebuild(self._new_policy(), self._by(), self._clock.now().timestamp())
        await self._load(self.owns)
        # Only once loaded: a rebuild cut short by the store failing is done again.
        self._rebuild_wanted = False

    async def _load(self, chosen: Callable[[str], bool]) -> None:
        pools = [pool for pool in await self._store.known_pools() if chosen(pool)]
        now = self._clock.now().timestamp()
        for task in await self._store.queued_tasks(pools):
            self.roster.policy.submit(task_spec(task), now)
