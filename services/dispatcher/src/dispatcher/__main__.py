"""`python -m dispatcher`: run the dispatcher until SIGTERM."""

import asyncio

from dispatcher.bootstrap import bootstrap
from dispatcher.config import DispatcherSettings
from fairtask_runtime.logging import configure_logging
from fairtask_runtime.shutdown import shutdown_event


async def main() -> None:
    settings = DispatcherSettings()
    configure_logging("dispatcher", settings.log_level, settings.log_json)
    service = bootstrap(settings)
    stop = shutdown_event()
    await service.runtime.start(settings.host, settings.grpc_port, settings.http_port)
    try:
        await service.runtime.run_until(stop)
    finally:
        await service.runtime.stop()


if __name__ == "__main__":
    asyncio.run(main())
