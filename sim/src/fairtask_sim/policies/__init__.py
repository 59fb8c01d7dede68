"""The policies the simulator can run, by name: the fair scheduler and the two baselines."""

import importlib
import inspect
import random
from types import ModuleType
from typing import Any

from dispatcher.domain.scheduling.policy import DispatchPolicy
from fairtask_sim.policies.fcfs import FirstComeFirstServed
from fairtask_sim.policies.poll import PolledQueue
from fairtask_sim.scenario import Scenario

POLICY_NAMES = ("fair", "fcfs", "poll")
# Where the fair scheduler may live: the facade the issue names, else the module that holds it.
FAIR_SCHEDULER_PATHS = (
    "dispatcher.domain.scheduling.scheduler.FairScheduler",
    "dispatcher.domain.scheduling.fair_share.FairScheduler",
)


class PolicyUnavailableError(RuntimeError):
    """The named policy cannot be built here (unknown name, or its code is not installed)."""


def make_policy(name: str, scenario: Scenario, seed: int) -> DispatchPolicy:
    behaviour = scenario.behaviour
    rng = random.Random(f"{seed}/policy/{name}")
    if name == "fcfs":
        return FirstComeFirstServed(rng, behaviour.offer_timeout_s, behaviour.race_jitter_ms)
    if name == "poll":
        return PolledQueue(rng, behaviour.offer_timeout_s, behaviour.poll_interval_s)
    if name == "fair":
        return _fair_scheduler(scenario)
    raise PolicyUnavailableError(
        f"unknown policy {name!r}; choose one of {', '.join(POLICY_NAMES)}"
    )


def fair_available() -> bool:
    return _fair_scheduler_class() is not None


def _fair_scheduler_class() -> tuple[ModuleType, Any] | None:
    for path in FAIR_SCHEDULER_PATHS:
        module_name, _, class_name = path.rpartition(".")
        try:
            # Imported by name: the scheduler is another team's module, maybe not there yet.
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        found = getattr(module, class_name, None)
        if found is not None:
            return module, found
    return None


def _fair_scheduler(scenario: Scenario) -> DispatchPolicy:
    found = _fair_scheduler_class()
    if found is None:
        raise PolicyUnavailableError(
            f"policy 'fair' needs the fair scheduler ({' or '.join(FAIR_SCHEDULER_PATHS)}), "
            "which cannot be imported; the baselines 'fcfs' and 'poll' run without it"
        )
    module, fair_scheduler = found
    # The scheduler's own defaults hold, except the offer timeout, which the scenario sets:
    # passed as `offer_ttl_s=`, or inside a `config=` of the module's FairConfig.
    ttl_s = scenario.behaviour.offer_timeout_s
    accepts = inspect.signature(fair_scheduler).parameters
    kwargs: dict[str, Any] = {}
    config_type = getattr(module, "FairConfig", None)
    if "offer_ttl_s" in accepts:
        kwargs["offer_ttl_s"] = ttl_s
    elif "config" in accepts and config_type is not None:
        kwargs["config"] = config_type(offer_ttl_s=ttl_s)
    policy: DispatchPolicy = fair_scheduler(**kwargs)
    return policy
