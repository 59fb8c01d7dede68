"""SIGTERM and SIGINT become an asyncio.Event the entrypoint awaits."""

import asyncio
import signal


def shutdown_event() -> asyncio.Event:
    """Returns an event set on the first SIGTERM or SIGINT. Call inside the running loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
