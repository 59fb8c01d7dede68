"""`make run`: the local stack, the three services, the demo load, and the report.

Exit codes: 0 the run completed (by duration or by Ctrl-C), 1 a service died during the run,
2 the stack failed, 3 a service failed to start, 4 the load itself failed (e.g. a refused
task type).
"""

import asyncio
import contextlib
import json
import secrets
import signal
import time
from pathlib import Path
from typing import Any

import grpc
import redis.asyncio as redis

from fairtask_demo.chaos.faults import ChaosPlan, Faults
from fairtask_demo.chaos.report import chaos_text
from fairtask_demo.chaos.run import audited
from fairtask_demo.config import DemoConfig
from fairtask_demo.dashboard import render
from fairtask_demo.load.onboarding import KafkaOnboarding
from fairtask_demo.prometheus import Prometheus, PrometheusError, fairness
from fairtask_demo.render import report_text
from fairtask_demo.report import build_report
from fairtask_demo.session import Control, LoadSession, Targets
from fairtask_demo.stack import LocalStack, StackError, project_root
from fairtask_demo.supervisor import (
    ServiceError,
    ServiceProcess,
    dispatcher_peers_env,
    plan,
    service_env,
)
from fairtask_localstack.stack import Stack
from fairtask_runtime.api_keys import RedisPlatformKeys
from fairtask_runtime.settings import DEFAULT_OPERATOR_PLATFORM_ID

EXIT_OK, EXIT_SERVICE_DIED, EXIT_STACK_FAILED, EXIT_SERVICE_FAILED, EXIT_LOAD_FAILED = range(5)
_HEALTH_TIMEOUT_S = 60.0
_STOP_GRACE_S = 15.0
_SAME_PRESS_S = 1.0


def _write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


async def _dispatcher_key(redis_url: str) -> str:
    """An operator key for the dispatcher's escrow holds, in the stack's key store."""
    client: redis.Redis = redis.from_url(redis_url)
    try:
        issued = await RedisPlatformKeys(client).issue(
            DEFAULT_OPERATOR_PLATFORM_ID, label="make run: the dispatcher's escrow holds"
        )
    finally:
        await client.aclose()
    return issued.key


def _say(text: str) -> None:
    print(text, flush=True)


def _install_signals(control: Control) -> None:
    """First Ctrl-C (or SIGTERM): stop submitting and drain. Second: skip the waiting."""

    loop = asyncio.get_running_loop()
    first_at: list[float] = []

    def on_signal() -> None:
        if not first_at:
            first_at.append(loop.time())
            _say("\nstopping: no new tasks; letting work in flight finish (Ctrl-C again: hurry)")
            control.stop.set()
        # One Ctrl-C can arrive several times: from the terminal to the whole process group,
        # and again forwarded by `uv run` and `make`. Only a later press means "hurry".
        elif loop.time() - first_at[0] > _SAME_PRESS_S and not control.hurry.is_set():
            _say("\nhurrying: skipping the drain")
            control.hurry.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)


async def _watch(services: list[ServiceProcess], control: Control) -> None:
    """A service that exits mid-run fails the run; the load stops and the report says why."""
    while True:
        for service in services:
            if (message := service.died()) is not None and message not in control.failures:
                control.failures.append(message)
                _say(f"\n!! {message}; {service.log_tail()}")
                control.stop.set()
                control.hurry.set()
        await asyncio.sleep(0.5)


def _where(services: list[ServiceProcess], stack: LocalStack, log_dir: Path) -> None:
    endpoints = stack.endpoints
    assert endpoints is not None
    state = "started" if stack.started_here else "reused"
    _say(
        f"stack ({state}): kafka {endpoints.kafka_bootstrap}, redis {endpoints.redis_url}, "
        f"postgres {endpoints.postgres_dsn}"
    )
    for s in services:
        _say(f"  {s.name:<10} gRPC {s.grpc_target:<16} metrics {s.metrics_url}")
        if s.name == "dispatcher":
            _say(f"  worker page: {s.metrics_url.removesuffix('/metrics')}/worker/")
    _say(f"  logs in {log_dir}/")


async def _prometheus(
    services: list[ServiceProcess], stack_dir: Path, root: Path
) -> Prometheus | None:
    """Prometheus scraping the services with the project's rules; None (said loudly) if it
    cannot start: the load runs anyway."""
    prometheus = Prometheus(stack_dir / "prometheus")
    try:
        prometheus.start(services, root)
        await prometheus.wait_ready()
    except PrometheusError as error:
        _say(f"!! prometheus did not start; the run goes on without it: {error}")
        await prometheus.stop()
        return None
    _say(f"  prometheus {prometheus.url} (rules: deploy/prometheus/rules.yml)")
    return prometheus


async def run_demo(
    config: DemoConfig,
    stack_dir: Path,
    report_path: Path | None,
    chaos: ChaosPlan | None = None,
    dashboard_png: Path | None = None,
) -> int:
    """With `chaos`, faults are injected during the load on a stack this run starts, and the
    report is the chaos audit's. With `dashboard_png`, the dashboard's panels are drawn there
    from the run's Prometheus."""
    control = Control()
    _install_signals(control)
    root = project_root()
    stack_dir = await asyncio.to_thread(stack_dir.resolve)
    log_dir = stack_dir / "logs"
    stack = LocalStack(stack_dir, root)
    services = plan(log_dir)
    watcher: asyncio.Task[None] | None = None
    prometheus: Prometheus | None = None
    report: dict[str, Any] | None = None
    try:
        _say(f"starting the local stack in {stack_dir} (Kafka, Redis, PostgreSQL) ...")
        try:
            endpoints = await stack.start()
        except StackError as error:
            _say(f"!! the local stack failed:\n{error}")
            return EXIT_STACK_FAILED
        if control.stop.is_set():
            _say("stopped before the load began: nothing to report")
            return EXIT_OK
        if chaos is not None and not stack.started_here:
            _say(f"!! chaos kills the stack's servers: stop the stack in {stack_dir} first")
            return EXIT_STACK_FAILED
        _say("starting dispatcher, scoring and payroll ...")
        # One worker-token secret for every service a worker calls, made up for this run.
        shared = {"FAIRTASK_WORKER_TOKEN_SECRET": secrets.token_urlsafe(48)}
        envs = {
            s.name: service_env(endpoints.to_env(), s, topic_prefix="") | shared for s in services
        }
        envs["dispatcher"] |= dispatcher_peers_env(
            services, await _dispatcher_key(endpoints.redis_url)
        )
        # Time runs 100 times faster in the demo: gold held back by the mixing rate is released
        # 2 s (not a minute) after its pool's other work stops, so the drain can finish it.
        envs["dispatcher"]["FAIRTASK_GOLD_IDLE_RELEASE_S"] = "2"
        # The report asks GetTask for every task of the run at its end: a state is kept that long
        # (a run until Ctrl-C: a week), not just the hour a deployment keeps it.
        kept_s = (config.duration_s or 7 * 24 * 3600) + 3600
        envs["dispatcher"]["FAIRTASK_FINISHED_TASK_KEPT_S"] = f"{kept_s:.0f}"
        for service in services:
            service.start(envs[service.name], cwd=root)
        try:
            await asyncio.gather(*(s.wait_healthy(_HEALTH_TIMEOUT_S) for s in services))
        except ServiceError as error:
            _say(f"!! {error}")
            return EXIT_SERVICE_FAILED
        if control.stop.is_set():
            _say("stopped before the load began: nothing to report")
            return EXIT_OK
        _where(services, stack, log_dir)
        prometheus = await _prometheus(services, stack_dir, root)
        began = time.time()
        faults = None
        if chaos is None:
            watcher = asyncio.create_task(_watch(services, control))
        else:
            faults = Faults(chaos, services, envs, root, Stack(stack_dir, root), endpoints, _say)
            watcher = asyncio.create_task(faults.guard())
        until = f"for {config.duration_s:.0f} s" if config.duration_s else "until Ctrl-C"
        _say(f"demo load {until}: {config.tasks_per_s:g} tasks/s, seed {config.seed}")
        target = {s.name: s.grpc_target for s in services}
        # The services read platform API keys from the stack's Redis (their default store).
        keys_redis: redis.Redis = redis.from_url(endpoints.redis_url)
        session = LoadSession(
            config,
            Targets(target["dispatcher"], target["scoring"], target["payroll"]),
            control,
            RedisPlatformKeys(keys_redis),
            say=_say,
            onboarding=KafkaOnboarding(endpoints.kafka_bootstrap),
            during=None if faults is None else faults.inject,
        )
        try:
            record = await session.run()
        except grpc.aio.AioRpcError as error:
            _say(f"!! the demo load failed: {error.code().name}: {error.details()}")
            return EXIT_SERVICE_DIED if control.failures else EXIT_LOAD_FAILED
        finally:
            await keys_redis.aclose()
        report = build_report(record)
        if prometheus is not None:
            report["prometheus"] = await fairness(prometheus)
            if dashboard_png is not None:
                await render(prometheus, root, began, time.time(), dashboard_png)
                _say(f"dashboard panels drawn in {dashboard_png}")
        for problem in session.registry.problems[:10]:
            _say(f"  note: {problem}")
        if faults is not None:
            _say(report_text(report))
            report = await audited(faults, report, record, endpoints.kafka_bootstrap)
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if prometheus is not None:
            await prometheus.stop()
        _say("stopping the services ...")
        await asyncio.gather(*(s.stop(_STOP_GRACE_S) for s in services))
        if stack.started_here:
            _say("stopping the local stack ...")
            try:
                await stack.stop()
            except StackError as error:
                _say(f"!! stopping the stack failed: {error}")
    assert report is not None  # every path that leaves it None has returned
    _say(report_text(report) if chaos is None else chaos_text(report))
    if report_path is not None:
        await asyncio.to_thread(_write_json, report_path, report)
        _say(f"\nreport written to {report_path}")
    if chaos is not None:
        return EXIT_OK if report["passed"] else EXIT_SERVICE_DIED
    return EXIT_OK if report["completed"] else EXIT_SERVICE_DIED
