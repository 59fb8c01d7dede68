"""Service processes: health wait, failure with the log's tail, and stopping for good."""

import textwrap
from pathlib import Path

import pytest

from fairtask_demo.supervisor import ServiceError, ServiceProcess, service_env, tail
from fairtask_localstack.ports import free_ports

HEALTHY = """
import asyncio, os, signal
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

async def main():
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port("127.0.0.1:" + os.environ["FAIRTASK_GRPC_PORT"])
    await server.start()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    print("stopped cleanly", flush=True)

asyncio.run(main())
"""
CRASHING = "print('cannot reach redis', flush=True)\nraise SystemExit(3)\n"
STUBBORN = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)\n"


def _service(tmp_path: Path, name: str, source: str) -> tuple[ServiceProcess, dict[str, str]]:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    grpc_port, http_port = free_ports(2)
    service = ServiceProcess(name, grpc_port, http_port, tmp_path / "logs" / f"{name}.log")
    env = {
        **service_env({"FAIRTASK_REDIS_URL": "redis://x"}, service, ""),
        "PYTHONPATH": str(tmp_path),
    }
    return service, env


async def test_a_service_is_ready_once_grpc_health_says_serving(tmp_path: Path) -> None:
    service, env = _service(tmp_path, "demo_healthy_service", HEALTHY)
    service.start(env, cwd=tmp_path)
    try:
        await service.wait_healthy(timeout_s=30)
        assert service.died() is None
    finally:
        await service.stop(grace_s=10)
    assert service.exit_code() == 0
    assert "stopped cleanly" in service.log_path.read_text()


async def test_a_service_that_exits_while_starting_fails_with_its_log(tmp_path: Path) -> None:
    service, env = _service(tmp_path, "demo_crashing_service", CRASHING)
    service.log_path.parent.mkdir(parents=True)
    service.log_path.write_text("an earlier run's complaint\n")
    service.start(env, cwd=tmp_path)
    with pytest.raises(ServiceError, match="exited with code 3") as failure:
        await service.wait_healthy(timeout_s=30)
    assert "cannot reach redis" in str(failure.value)
    assert "earlier run" not in str(failure.value)  # only this run's lines
    assert service.died() == "demo_crashing_service died with exit code 3"


async def test_a_service_that_never_serves_times_out_and_is_killed(tmp_path: Path) -> None:
    service, env = _service(tmp_path, "demo_stubborn_service", STUBBORN)
    service.start(env, cwd=tmp_path)
    with pytest.raises(ServiceError, match="not SERVING after 1 s"):
        await service.wait_healthy(timeout_s=1)
    await service.stop(grace_s=0.5)  # ignores SIGTERM, so this takes SIGKILL
    assert service.exit_code() is not None


def test_each_service_gets_the_stack_and_its_own_ports() -> None:
    service = ServiceProcess("dispatcher", 5001, 5002, Path("/tmp/x.log"))
    env = service_env({"FAIRTASK_KAFKA_BOOTSTRAP": "127.0.0.1:9"}, service, topic_prefix="")
    assert env == {
        "FAIRTASK_KAFKA_BOOTSTRAP": "127.0.0.1:9",
        "FAIRTASK_GRPC_PORT": "5001",
        "FAIRTASK_HTTP_PORT": "5002",
        "FAIRTASK_TOPIC_PREFIX": "",
        "FAIRTASK_HOST": "127.0.0.1",
    }


def test_a_log_tail_is_short_and_starts_at_this_run(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("before\n" + "\n".join(f"line {i}" for i in range(100)) + "\n" + "x" * 1000)
    text = tail(log, offset=len("before\n"), lines=3, width=50)
    assert text.splitlines() == ["line 98", "line 99", "x" * 50 + " ..."]
    assert tail(tmp_path / "missing.log") == "(no log)"
