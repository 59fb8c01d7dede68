"""`python -m payroll`: run payroll until SIGTERM or SIGINT."""

import asyncio

from fairtask_runtime.logging import configure_logging
from fairtask_runtime.shutdown import shutdown_event
from payroll.bootstrap import SERVICE, bootstrap
from payroll.config import PayrollSettings


async def main() -> None:
    settings = PayrollSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)
    runtime = bootstrap(settings)
    stop = shutdown_event()
    await runtime.start(settings.host, settings.grpc_port, settings.http_port)
    try:
        await runtime.run_until(stop)
    finally:
        await runtime.stop()


if __name__ == "__main__":
    asyncio.run(main())
