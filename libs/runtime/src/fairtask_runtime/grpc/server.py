"""A grpc.aio server with health checking and reflection, stopped gracefully."""

from collections.abc import Callable, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from fairtask_runtime.grpc.malformed import MalformedRequests
from fairtask_runtime.grpc.outages import Outages

Registrar = Callable[[grpc.aio.Server], None]

MAX_MESSAGE_BYTES = 4 * 1024 * 1024


class GrpcServer:
    """Serves the given services plus grpc.health.v1 and reflection for standard clients."""

    def __init__(
        self,
        service_names: Sequence[str],
        registrars: Sequence[Registrar],
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        self._service_names = list(service_names)
        self._server = grpc.aio.server(
            interceptors=[MalformedRequests(), Outages(), *interceptors],
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.keepalive_time_ms", 20_000),
                ("grpc.keepalive_timeout_ms", 10_000),
                ("grpc.http2.max_pings_without_data", 0),
                ("grpc.keepalive_permit_without_calls", 1),
            ],
        )
        for register in registrars:
            register(self._server)
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            [*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self._server
        )
        self.port = 0
        # Set before start() to listen with TLS (see fairtask_runtime.grpc.tls).
        self.credentials: grpc.ServerCredentials | None = None

    async def start(self, host: str, port: int) -> int:
        address = f"{host}:{port}"
        if self.credentials is None:
            self.port = self._server.add_insecure_port(address)
        else:
            self.port = self._server.add_secure_port(address, self.credentials)
        await self._server.start()
        for name in ["", *self._service_names]:
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self.port

    async def stop(self, grace_s: float) -> None:
        # Report NOT_SERVING first so load balancers stop routing, then let calls finish.
        for name in ["", *self._service_names]:
            await self._health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self._server.stop(grace_s)
