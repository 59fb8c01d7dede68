"""What in-memory fakes hold, comparable before and after a refused request."""

import asyncio
import copy
from typing import Any

# Wake-up machinery, not state: replaced on every write by some fakes.
_SIGNALS = (asyncio.Event, asyncio.Condition, asyncio.Lock, asyncio.Queue)


def state_of(*fakes: object) -> list[dict[str, Any]]:
    """A deep copy of each fake's attributes that hold values, leaving out its collaborators
    (a clock, a lock: objects that compare by identity) and signalling primitives."""
    return [
        {
            name: copy.deepcopy(value)
            for name, value in vars(fake).items()
            if not isinstance(value, _SIGNALS) and _is_value(value)
        }
        for fake in fakes
    ]


def _is_value(value: object) -> bool:
    return value is None or type(value).__eq__ is not object.__eq__
