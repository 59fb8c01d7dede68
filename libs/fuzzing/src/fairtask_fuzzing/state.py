"""What in-memory fakes hold, comparable before and after a refused request."""

import asyncio
import copy
from typing import Any

# Wake-up machinery, not state: replaced on every write by some fakes.
_SIGNALS = (asyncio.Event, asyncio.Condition, asyncio.Lock, asyncio.Queue)


def state_of(*fakes: object) -> list[dict[str, Any]]:
    """A deep copy of each fake's attributes, leaving out its signalling primitives."""
    return [
        {
            name: copy.deepcopy(value)
            for name, value in vars(fake).items()
            if not isinstance(value, _SIGNALS)
        }
        for fake in fakes
    ]
