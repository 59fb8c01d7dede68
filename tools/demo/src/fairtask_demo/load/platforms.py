"""A simulated platform: defines its task type, then submits tasks at a steady rate."""

import asyncio
import contextlib
import json
import random
from datetime import UTC, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from fairtask.v1 import dispatcher_pb2, dispatcher_pb2_grpc, events_pb2
from fairtask_demo.config import DemoConfig, PlatformSpec, TaskTypeSpec
from fairtask_demo.load.registry import Registry
from fairtask_demo.load.truth import true_label
from fairtask_demo.model import SubmittedTask
from fairtask_demo.windows import now_utc
from fairtask_runtime.answers import answer_task_ids
from fairtask_runtime.grpc.errors import retry_delay_of
from fairtask_runtime.grpc.identity import Metadata

_CALL_TIMEOUT_S = 10.0
_MAX_BATCH = 1000
# Worth retrying: the batch is idempotent by client_task_id, so a repeat cannot duplicate.
_TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    }
)


class PlatformSim:
    def __init__(
        self,
        spec: PlatformSpec,
        platform_id: str,
        credentials: Metadata,
        run_tag: str,
        tasks_per_s: float,
        config: DemoConfig,
        channel: grpc.aio.Channel,
        registry: Registry,
    ) -> None:
        self.spec = spec
        self.platform_id = platform_id
        self._run_tag = run_tag
        self._tasks_per_s = tasks_per_s
        self._config = config
        self._stub = dispatcher_pb2_grpc.PlatformServiceStub(channel)
        self._registry = registry
        self._rng = random.Random(f"{config.seed}:platform:{spec.name}")
        self._metadata = credentials
        self._issued = 0

    async def define_task_type(self) -> None:
        """Idempotent by name, so retried while the dispatcher is unreachable. Raises on refusal."""
        t = self.spec.task_type
        request = dispatcher_pb2.DefineTaskTypeRequest(
            task_type=dispatcher_pb2.TaskType(
                name=t.name,
                purpose=t.purpose,
                price_micros=t.price_micros,
                effort_seconds=t.effort_seconds,
                skills=list(t.skills),
                sensitive=t.sensitive,
                overlap=_overlap(t),
            )
        )
        for attempt in range(10):
            try:
                await self._stub.DefineTaskType(
                    request, metadata=self._metadata, timeout=_CALL_TIMEOUT_S
                )
                return
            except grpc.aio.AioRpcError as error:
                if error.code() not in _TRANSIENT or attempt == 9:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))

    async def run(self, stop: asyncio.Event) -> None:
        """Submits on a fixed schedule until `stop`; a slow call delays, never drops, tasks."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        interval = self._config.batch_interval_s
        while not stop.is_set():
            due = int(self._tasks_per_s * (loop.time() - started)) - self._issued
            if due > 0:
                await self._submit(min(due, _MAX_BATCH))
            # Waking on `stop` too, so the end of the run is not delayed by a whole interval.
            next_at = started + (int((loop.time() - started) / interval) + 1) * interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(next_at - loop.time(), 0.0))

    def _new_task(self) -> dispatcher_pb2.NewTask:
        self._issued += 1
        number = self._issued
        gold = self._rng.random() < self._config.gold_share
        deadline = Timestamp()
        deadline.FromDatetime(now_utc() + timedelta(hours=self._config.deadline_hours))
        item = {"item": number, "image": f"camera-{self._rng.randrange(1000):03d}.jpg"}
        payload = json.dumps(item).encode()
        return dispatcher_pb2.NewTask(
            client_task_id=f"{self._run_tag}-{self.spec.name}-{number:07d}",
            task_type=self.spec.task_type.name,
            payload=payload,
            deadline=deadline,
            gold_answer=true_label(payload) if gold else "",
        )

    async def _submit(self, count: int) -> None:
        batch = [self._new_task() for _ in range(count)]
        request = dispatcher_pb2.SubmitTasksRequest(tasks=batch)
        submitted_at = now_utc()
        loop = asyncio.get_running_loop()
        for attempt in range(3):
            began = loop.time()
            try:
                response = await self._stub.SubmitTasks(
                    request, metadata=self._metadata, timeout=_CALL_TIMEOUT_S
                )
                break
            except grpc.aio.AioRpcError as error:
                if error.code() not in _TRANSIENT or attempt == 2:
                    self._registry.submit_failures += count
                    self._problem(f"SubmitTasks failed: {error.code().name}: {error.details()}")
                    return
                # A full backlog (RESOURCE_EXHAUSTED) says how long to wait; nothing was accepted.
                await asyncio.sleep(retry_delay_of(error) or 0.5 * (attempt + 1))
            finally:
                self._registry.submit_call_s.append(loop.time() - began)
        by_client_id = {t.client_task_id: t for t in batch}
        effort = self.spec.task_type.effort_seconds
        overlap = self.spec.task_type.overlap
        for answer in response.tasks:
            sent = by_client_id.get(answer.client_task_id)
            if sent is None or not answer.task_id:
                self._registry.submit_failures += 1
                continue
            self._registry.truth[answer.task_id] = true_label(sent.payload)
            if overlap is not None and not sent.gold_answer:
                for copy_id in answer_task_ids(answer.task_id, overlap[1])[1:]:
                    self._registry.copies[copy_id] = answer.task_id
            self._registry.tasks[answer.task_id] = SubmittedTask(
                task_id=answer.task_id,
                client_task_id=answer.client_task_id,
                platform=self.platform_id,
                task_type=sent.task_type,
                effort_seconds=effort,
                gold=bool(sent.gold_answer),
                deadline=sent.deadline.ToDatetime(tzinfo=UTC),
                submitted_at=submitted_at,
            )
        self._registry.submit_failures += max(len(batch) - len(response.tasks), 0)

    def _problem(self, text: str) -> None:
        if self._registry.note_problem(f"{self.platform_id}: {text}"):
            print(f"  ! {self.platform_id}: {text}", flush=True)


def _overlap(task_type: TaskTypeSpec) -> events_pb2.Overlap | None:
    if task_type.overlap is None:
        return None
    least, most, target = task_type.overlap
    return events_pb2.Overlap(min_answers=least, max_answers=most, confidence_target=target)
