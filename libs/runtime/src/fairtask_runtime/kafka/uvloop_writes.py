"""aiokafka on uvloop: a request written to a connection the broker already closed.

asyncio's transport ignores such a write, and aiokafka expects an OSError at worst; uvloop
raises RuntimeError ("unable to perform operation on <TCPTransport closed=True ...>; the
handler is closed"), which aiokafka does not catch (aio-libs/aiokafka#1038). When it escapes
in the client's metadata task, that task dies; every later wait for metadata (looking up the
group coordinator, hence every commit) then waits for ever. Found under `make chaos`: after a
Kafka restart a service's consumer stopped for good and its tasks went unpaid.

`install()` makes that write what aiokafka handles everywhere else: the connection is closed
and KafkaConnectionError raised, which its callers retry.
"""

import functools
from typing import Any

from aiokafka.conn import AIOKafkaConnection, CloseReason
from aiokafka.errors import KafkaConnectionError

_MARK = "_fairtask_uvloop_writes"


def install() -> None:
    """Idempotent."""
    original = AIOKafkaConnection.send
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def send(self: AIOKafkaConnection, request: Any, expect_response: bool = True) -> Any:
        try:
            return original(self, request, expect_response)
        except RuntimeError as exc:
            writer = self._writer
            if writer is not None and not writer.transport.is_closing():
                raise
            self.close(reason=CloseReason.CONNECTION_BROKEN, exc=exc)
            raise KafkaConnectionError(
                f"Connection at {self.host}:{self.port} broken: {exc}"
            ) from exc

    setattr(send, _MARK, True)
    AIOKafkaConnection.send = send
