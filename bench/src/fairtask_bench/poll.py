"""The poll baseline: a "next task" queue in PostgreSQL, as annotation tools keep one.

Workers ask for the next task (`SELECT ... FOR UPDATE SKIP LOCKED`), do it and submit, and ask
again at once; when the queue is empty they ask again after about `interval_s` (each wait drawn
between half and one and a half times it), as the tools' pages do. Each load process shares a
small connection pool among its workers, as an app server would. The delay measured is from
the row's insertion to the worker holding it.
"""

import asyncio
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import asyncpg

from fairtask_bench.fleet import Fleet
from fairtask_bench.measure import Ladder, Timing, Window, at_rate, latency_rate, saturated
from fairtask_bench.pacer import Pacer
from fairtask_bench.protocol import obey
from fairtask_bench.push_run import shares
from fairtask_bench.recorder import Recorder
from fairtask_bench.stack import BenchStack
from fairtask_bench.stats import latency_ms
from fairtask_bench.workload import stamp

_SCHEMA = """
CREATE TABLE {t} (
    id bigserial PRIMARY KEY,
    payload bytea NOT NULL,
    inserted_at double precision NOT NULL DEFAULT extract(epoch FROM clock_timestamp()),
    state smallint NOT NULL DEFAULT 0,  -- 0 queued, 1 taken, 2 done
    worker text
);
CREATE INDEX ON {t} (id) WHERE state = 0;
"""
_TAKE = """
UPDATE {t} SET state = 1, worker = $1
WHERE id = (SELECT id FROM {t} WHERE state = 0 ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
RETURNING id, inserted_at
"""
_DONE = "UPDATE {t} SET state = 2 WHERE id = $1"
_INSERT = "INSERT INTO {t} (payload) SELECT unnest($1::bytea[])"


@dataclass(frozen=True)
class PollPlan:
    name: str
    dsn: str
    table: str
    workers: int
    pool_size: int
    interval_s: float


@dataclass(frozen=True)
class PollLoad:
    clients: int
    workers: int
    pool_size: int  # connections per load process
    interval_s: float
    timing: Timing


def poller_process(plan: PollPlan, conn: Connection, counter: Any) -> None:
    asyncio.run(_serve(plan, conn, counter))


async def _serve(plan: PollPlan, conn: Connection, counter: Any) -> None:
    pool = await asyncpg.create_pool(plan.dsn, min_size=plan.pool_size, max_size=plan.pool_size)
    try:
        take, done = _TAKE.format(t=plan.table), _DONE.format(t=plan.table)
        rng = random.Random(plan.name)

        def worker(name: str) -> Any:
            async def poll(recorder: Recorder) -> None:
                # Spread out, as people who opened the page at different moments.
                await asyncio.sleep(rng.uniform(0, plan.interval_s))
                while True:
                    row = await pool.fetchrow(take, name)
                    if row is None:
                        # Every 3 s on average, not in step: people's pages fall idle when
                        # each one's last task is done, minutes apart. The simulated workers
                        # take no time over a task, so with a fixed interval they would all
                        # fall idle in the same instant and poll in lockstep ever after, and
                        # a new task would wait for the whole crowd's next poll (about 1.1 s
                        # at p50, what this baseline measured before 2026-12-07).
                        await asyncio.sleep(rng.uniform(0.5, 1.5) * plan.interval_s)
                        continue
                    recorder.delivered(row["inserted_at"])
                    await pool.execute(done, row["id"])

            return poll

        await obey(
            conn, Recorder(counter), [worker(f"{plan.name}-{i}") for i in range(plan.workers)]
        )
    finally:
        await pool.close()
    conn.send("stopped")


async def poll_run(
    stack: BenchStack,
    load: PollLoad,
    rate_per_s: float,
    ladder: Ladder,
    rungs: Sequence[float] = (),
) -> dict[str, Any]:
    """Saturated, then at `rate_per_s`, then at each of `rungs` (the ladder rates the
    dispatcher was measured at), in the ladder's shorter windows."""
    dsn = stack.endpoints.postgres_dsn
    table = f"bench_poll_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn, timeout=30)
    try:
        await admin.execute(_SCHEMA.format(t=table))
        insert = _INSERT.format(t=table)

        inserts = await asyncpg.create_pool(dsn, min_size=2, max_size=4)

        async def submit(count: int) -> int:
            await inserts.execute(insert, [stamp()] * count)
            return 0

        plans = [
            PollPlan(f"p{i}", dsn, table, count, load.pool_size, load.interval_s)
            for i, count in enumerate(shares(load.workers, load.clients))
        ]
        fleet = await Fleet.start(poller_process, plans, timeout_s=120)
        try:
            pacer = Pacer(submit, batch=500)
            # The poll queue's server is PostgreSQL (when its process is known).
            watched = stack.watched(next(iter(stack.pids.get("postgres", [])), None), fleet.pids)
            top = await saturated(fleet, pacer, watched, load.timing)
            rate = latency_rate(rate_per_s, top)
            steady = await at_rate(fleet, pacer, watched, load.timing, rate)
            steps = [
                (rung, await at_rate(fleet, pacer, watched, ladder.timing, rung)) for rung in rungs
            ]
        finally:
            await fleet.stop()
            await inserts.close()
        await admin.execute(f"DROP TABLE {table}")
    finally:
        await admin.close()
    return {
        "workers": fleet.connected,
        "poll_interval_s": load.interval_s,
        "connections": load.pool_size * load.clients,
        "offers_per_second": top.offers_per_second,
        "saturated": _window(top),
        "at_rate": {"rate_per_second": rate, **_window(steady)},
        "ladder": [{"rate_per_second": rung, **_window(window)} for rung, window in steps],
    }


def _window(window: Window) -> dict[str, Any]:
    return {
        "offers_per_second": window.offers_per_second,
        "offers_per_server_core": window.offers_per_server_core,
        "delivery_latency_ms": latency_ms(window.samples.submit_to_offer_s),
        "cpu": window.cpu,
    }
