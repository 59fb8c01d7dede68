"""`python -m scoring`: run scoring until SIGTERM or SIGINT."""

import asyncio

from fairtask_runtime.logging import configure_logging
from fairtask_runtime.shutdown import shutdown_event
from scoring.bootstrap import bootstrap
from scoring.config import ScoringSettings


async def main() -> None:
    settings = ScoringSettings()
    configure_logging("scoring", settings.log_level, settings.log_json)
    runtime = bootstrap(settings)
    stop = shutdown_event()
    # start() logs one "service started" line with the bound gRPC and HTTP ports.
    await runtime.start(settings.host, settings.grpc_port, settings.http_port)
    try:
        await runtime.run_until(stop)
    finally:
        await runtime.stop()


if __name__ == "__main__":
    asyncio.run(main())
