"""One demo load against running services: submit, work, drain, settle, read back the outcome.

Only the public gRPC APIs are used, as a real platform and real workers would.
"""

import asyncio
import contextlib
import random
import secrets
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from tenacity import AsyncRetrying, stop_after_delay, wait_exponential

from fairtask_demo import collect
from fairtask_demo.config import DemoConfig
from fairtask_demo.load.escrow import fund
from fairtask_demo.load.onboarding import OnboardingPublisher, onboarding_steps
from fairtask_demo.load.platforms import PlatformSim
from fairtask_demo.load.registry import Registry
from fairtask_demo.load.results import watch_results
from fairtask_demo.load.reviews import review_work
from fairtask_demo.load.workers import WorkerSim
from fairtask_demo.model import RunRecord, WorkerProfile, WorkerTally
from fairtask_demo.render import Progress, progress_line
from fairtask_demo.windows import now_utc
from fairtask_runtime.api_keys import PlatformKeys
from fairtask_runtime.grpc.identity import Metadata, bearer
from fairtask_runtime.settings import DEFAULT_OPERATOR_PLATFORM_ID


@dataclass(frozen=True)
class Targets:
    dispatcher: str
    scoring: str
    payroll: str


# Runs beside the load with its workers until the event (the end of submitting) is set.
During = Callable[[Sequence[WorkerSim], asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class Control:
    """How the outside world ends the load: `stop` ends submitting, `hurry` skips the waits."""

    stop: asyncio.Event = field(default_factory=asyncio.Event)
    hurry: asyncio.Event = field(default_factory=asyncio.Event)
    # Set (with a reason) when a service died: the run is not a success.
    failures: list[str] = field(default_factory=list)


def roster(config: DemoConfig, run_tag: str) -> list[WorkerTally]:
    # The run tag keeps worker ids unique per run, so a reused stack's ledger from earlier runs
    # does not leak into this run's statements.
    return [
        WorkerTally(
            WorkerProfile(
                worker_id=f"{region.name}-{run_tag}-{i:03d}",
                region=region.name,
                time_zone=region.time_zone,
                utc_offset_hours=region.utc_offset_hours,
                availability=region.availability,
            )
        )
        for region in config.regions
        for i in range(1, region.workers + 1)
    ]


class LoadSession:
    def __init__(
        self,
        config: DemoConfig,
        targets: Targets,
        control: Control,
        keys: PlatformKeys,
        say: Callable[[str], None] = print,
        onboarding: OnboardingPublisher | None = None,
        during: During | None = None,
    ) -> None:
        """`keys` is the store the services check platform API keys against: the load issues
        its simulated platforms their keys there, as an operator would, and revokes them at
        the end. `onboarding`, when given, announces the workers' paid onboarding steps.
        `during` runs beside the load (fault injection) and is awaited before the drain."""
        self._onboarding = onboarding
        self._during = during
        self._config = config
        self._keys = keys
        self._credentials: dict[str, Metadata] = {}
        self._operator: Metadata = ()
        self._targets = targets
        self._control = control
        self._say = say
        self.run_tag = secrets.token_hex(3)
        self.registry = Registry()
        self.tallies = roster(config, self.run_tag)
        self._rng = random.Random(f"{config.seed}:session")

    async def run(self) -> RunRecord:
        cfg = self._config
        async with (
            grpc.aio.insecure_channel(self._targets.dispatcher) as dispatcher,
            grpc.aio.insecure_channel(self._targets.scoring) as scoring,
            grpc.aio.insecure_channel(self._targets.payroll) as payroll,
        ):
            issued = [
                await self._keys.issue(f"{spec.name}-{self.run_tag}", label="make run demo load")
                for spec in cfg.platforms
            ]
            self._credentials = {k.platform_id: bearer(k.key) for k in issued}
            # Workers' statements and the ledger's totals are operators' reads.
            operator = await self._keys.issue(
                DEFAULT_OPERATOR_PLATFORM_ID, label="make run demo load: reads the pay report"
            )
            issued.append(operator)
            self._operator = bearer(operator.key)
            try:
                return await self._run(dispatcher, scoring, payroll)
            finally:
                for key in issued:
                    await self._revoke(key.key_id)

    async def _revoke(self, key_id: str) -> None:
        """Revokes a key of the run, waiting out a key store that is restarting."""
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(60), wait=wait_exponential(multiplier=0.1, max=2), reraise=True
        ):
            with attempt:
                await self._keys.revoke(key_id)

    async def _run(
        self,
        dispatcher: grpc.aio.Channel,
        scoring: grpc.aio.Channel,
        payroll: grpc.aio.Channel,
    ) -> RunRecord:
        cfg = self._config
        total_weight = sum(p.weight for p in cfg.platforms) or 1.0
        platforms = [
            PlatformSim(
                spec,
                f"{spec.name}-{self.run_tag}",
                self._credentials[f"{spec.name}-{self.run_tag}"],
                self.run_tag,
                cfg.tasks_per_s * spec.weight / total_weight,
                cfg,
                dispatcher,
                self.registry,
            )
            for spec in cfg.platforms
        ]
        await asyncio.gather(*(p.define_task_type() for p in platforms))
        # No task is accepted before its platform's escrow can pay for it.
        await asyncio.gather(
            *(
                fund(payroll, self._credentials[p.platform_id], f"demo-{self.run_tag}")
                for p in platforms
            )
        )
        if self._onboarding is not None:
            task_types = [(p.platform_id, p.spec.task_type.name) for p in platforms]
            await self._onboarding.publish(onboarding_steps(self.tallies, task_types, self.run_tag))
        workers = [WorkerSim(t, dispatcher, cfg, self.registry) for t in self.tallies]
        loop = asyncio.get_running_loop()
        began = loop.time()
        background = [
            *(asyncio.create_task(w.run()) for w in workers),
            *(
                asyncio.create_task(
                    watch_results(
                        scoring, p.platform_id, self._credentials[p.platform_id], self.registry
                    )
                )
                for p in platforms
            ),
            *(
                asyncio.create_task(
                    review_work(
                        scoring, p.platform_id, self._credentials[p.platform_id], self.registry
                    )
                )
                for p in platforms
            ),
            asyncio.create_task(self._progress(began)),
        ]
        submitting = [asyncio.create_task(p.run(self._control.stop)) for p in platforms]
        cuts = asyncio.create_task(self._power_cuts(workers))
        beside: asyncio.Task[None] = asyncio.create_task(
            self._during(workers, self._control.stop) if self._during else asyncio.sleep(0)
        )
        duration_s = drain_s = 0.0
        try:
            await self._until_end()
            duration_s = loop.time() - began
            self._control.stop.set()
            self._crashed(await asyncio.gather(*submitting, return_exceptions=True))
            cuts.cancel()
            self._crashed(list(await asyncio.gather(beside, return_exceptions=True)))
            drain_began = loop.time()
            await self._drain(dispatcher)
            drain_s = loop.time() - drain_began
            for w in workers:
                w.close()
            self._crashed(await asyncio.gather(*background[: len(workers)], return_exceptions=True))
            await self._settle(payroll)
        finally:
            for task in [*background, *submitting, cuts, beside]:
                task.cancel()
            await asyncio.gather(*background, *submitting, cuts, beside, return_exceptions=True)
        return await self._record(dispatcher, payroll, duration_s, drain_s)

    async def _until_end(self) -> None:
        waiter = asyncio.create_task(self._control.stop.wait())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout=self._config.duration_s)
        except TimeoutError:
            pass
        finally:
            waiter.cancel()

    async def _drain(self, dispatcher: grpc.aio.Channel) -> None:
        """Lets in-flight work finish until the dispatcher says every task is SUBMITTED and
        every task several workers answer has its aggregate."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.drain_s
        confirmed: set[str] = set()
        if not self._interrupted():
            self._say(f"draining: up to {self._config.drain_s:.0f} s for work in flight to finish")
        while loop.time() < deadline and not self._interrupted():
            # Ask only about tasks some worker says it submitted: cheap, and exact once true.
            claimed = {t for w in self.tallies for t in w.submit_sent_at}
            to_check = [
                task
                for task_id, task in self.registry.tasks.items()
                if task_id not in confirmed and task_id in claimed
            ]
            states = await collect.task_states(dispatcher, to_check, self._credentials)
            confirmed |= {t for t, s in states.items() if s.state == "SUBMITTED"}
            # Workers stay until tasks several workers answer have all their answers too:
            # scoring asks for the last ones after the first answers are in.
            unaggregated = set(self.registry.copies.values()) - self.registry.aggregates.keys()
            if len(confirmed) >= len(self.registry.tasks) and not unaggregated:
                return
            await self._sleep_or_hurry(1.0)

    async def _settle(self, payroll: grpc.aio.Channel) -> None:
        """Gives scoring and payroll a moment to catch up with the last submissions."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.settle_s
        last, still = (-1, -1, -1), 0
        aggregated = self.registry.aggregates
        worker_ids = [t.profile.worker_id for t in self.tallies]
        while loop.time() < deadline and not self._interrupted():
            found = await collect.statements(payroll, worker_ids, self._operator)
            done = {t for w in self.tallies for t in w.submit_sent_at} & self.registry.tasks.keys()
            # Each platform task's own answer; further answers are paid under their copies' ids.
            unpaid = len(done - collect.tasks_paid(found))
            # Tasks several workers answer end in an aggregate once their further answers
            # are in and paid for.
            unaggregated = len((set(self.registry.copies.values()) & done) - aggregated.keys())
            now = (unpaid, len(self.registry.released), unaggregated)
            # Gold tasks are control questions: their answers are not results for the platform.
            releasable = sum(1 for t in done if not self.registry.tasks[t].gold)
            still = still + 1 if now == last else 0
            if (unpaid == 0 and now[1] >= releasable and unaggregated == 0) or still >= 3:
                return
            last = now
            await self._sleep_or_hurry(1.0)

    async def _record(
        self,
        dispatcher: grpc.aio.Channel,
        payroll: grpc.aio.Channel,
        duration_s: float,
        drain_s: float,
    ) -> RunRecord:
        tasks = dict(self.registry.tasks)
        final, statements, ledger, escrow = await asyncio.gather(
            collect.task_states(dispatcher, tasks.values(), self._credentials),
            collect.statements(
                payroll, [t.profile.worker_id for t in self.tallies], self._operator
            ),
            collect.ledger_summary(payroll, self._operator),
            collect.escrows(payroll, self._operator, sorted(self._credentials)),
        )
        cfg = self._config
        return RunRecord(
            policy=cfg.policy,
            scenario=cfg.scenario,
            duration_s=duration_s,
            drain_s=drain_s,
            ended_at=now_utc(),
            tasks=tasks,
            final=final,
            workers=self.tallies,
            statements=statements,
            ledger=ledger,
            results_released=len(self.registry.released & tasks.keys()),
            copies=dict(self.registry.copies),
            truth=dict(self.registry.truth),
            answers={t: list(a) for t, a in self.registry.answers.items()},
            aggregates=dict(self.registry.aggregates),
            submit_failures=self.registry.submit_failures,
            pay_floor_micros_per_hour=round(cfg.pay_floor_usd_per_hour * 1_000_000),
            night_window=cfg.night,
            submit_call_s=tuple(self.registry.submit_call_s),
            completed=not self._control.failures,
            errors=tuple(self._control.failures),
            escrow=escrow,
        )

    async def _power_cuts(self, workers: list[WorkerSim]) -> None:
        cfg = self._config
        cut_regions = {r.name for r in cfg.regions if r.power_cuts}
        exposed = [w for w in workers if w.tally.profile.region in cut_regions]
        if not exposed or cfg.power_cut_workers <= 0:
            return
        while True:
            await asyncio.sleep(cfg.power_cut_every_s)
            online = [w for w in exposed if w.tally.connected]
            # Prefer workers mid-lease: that is what the grace period exists for.
            busy = [w for w in online if w.busy] or online
            for w in self._rng.sample(busy, min(cfg.power_cut_workers, len(busy))):
                w.cut_power(self._rng.uniform(*cfg.power_cut_s))

    async def _progress(self, began: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._config.progress_every_s)
            self._say(progress_line(self.progress(loop.time() - began)))

    def progress(self, elapsed_s: float) -> Progress:
        by_region: dict[str, int] = {r.name: 0 for r in self._config.regions}
        for t in self.tallies:
            by_region[t.profile.region] = by_region.get(t.profile.region, 0) + t.completed
        return Progress(
            elapsed_s=elapsed_s,
            submitted=len(self.registry.tasks),
            offered=sum(t.offers for t in self.tallies),
            completed=sum(t.completed for t in self.tallies),
            results_released=len(self.registry.released),
            connected_workers=sum(t.connected for t in self.tallies),
            total_workers=len(self.tallies),
            completed_by_region=by_region,
        )

    def _crashed(self, outcomes: list[object]) -> None:
        """A simulated platform or worker that crashed is a bug in the demo: say so, loudly."""
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                text = f"demo bug: a simulated client crashed: {outcome!r}"
                if self.registry.note_problem(text):
                    self._say(f"  ! {text}")

    def _interrupted(self) -> bool:
        return self._control.hurry.is_set() or bool(self._control.failures)

    async def _sleep_or_hurry(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._control.hurry.wait(), timeout=seconds)
