"""mTLS on the gRPC port: with a client CA configured, only callers holding a certificate it
signed get through; without TLS settings the server stays plaintext."""

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import trustme
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import ValidationError

from fairtask_runtime.grpc.server import GrpcServer
from fairtask_runtime.grpc.tls import channel_credentials, server_credentials
from fairtask_runtime.settings import ServiceSettings


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    ours, theirs = trustme.CA(), trustme.CA()
    server = ours.issue_cert("127.0.0.1", "localhost")
    client = ours.issue_cert("scoring.fairtask.svc")
    stranger = theirs.issue_cert("intruder")
    found = {
        "ca": ours.cert_pem,
        "server_cert": server.cert_chain_pems[0],
        "server_key": server.private_key_pem,
        "client_cert": client.cert_chain_pems[0],
        "client_key": client.private_key_pem,
        "stranger_cert": stranger.cert_chain_pems[0],
        "stranger_key": stranger.private_key_pem,
    }
    paths = {name: tmp_path / f"{name}.pem" for name in found}
    for name, blob in found.items():
        blob.write_to_path(str(paths[name]))
    return paths


@pytest.fixture
async def port(files: dict[str, Path]) -> AsyncIterator[int]:
    settings = ServiceSettings(
        tls_cert_file=files["server_cert"],
        tls_key_file=files["server_key"],
        tls_client_ca_file=files["ca"],
    )
    server = GrpcServer([], [])
    server.credentials = server_credentials(settings)
    bound = await server.start("127.0.0.1", 0)
    yield bound
    await server.stop(0)


async def health(channel: grpc.aio.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
    return int(answer.status)


async def test_a_caller_with_a_certificate_from_our_ca_gets_through(
    port: int, files: dict[str, Path]
) -> None:
    credentials = channel_credentials(files["ca"], files["client_cert"], files["client_key"])
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        assert await health(channel) == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("who", ["no certificate", "another CA's certificate", "plaintext"])
async def test_a_caller_without_our_certificate_is_refused(
    port: int, files: dict[str, Path], who: str
) -> None:
    target = f"127.0.0.1:{port}"
    if who == "plaintext":
        channel = grpc.aio.insecure_channel(target)
    elif who == "no certificate":
        channel = grpc.aio.secure_channel(target, channel_credentials(files["ca"]))
    else:
        credentials = channel_credentials(
            files["ca"], files["stranger_cert"], files["stranger_key"]
        )
        channel = grpc.aio.secure_channel(target, credentials)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await health(channel)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_half_a_tls_configuration_is_refused_at_start(files: dict[str, Path]) -> None:
    with pytest.raises(ValidationError, match="go together"):
        ServiceSettings(tls_cert_file=files["server_cert"])
    with pytest.raises(ValidationError, match="needs tls_cert_file"):
        ServiceSettings(tls_client_ca_file=files["ca"])
    assert server_credentials(ServiceSettings()) is None
