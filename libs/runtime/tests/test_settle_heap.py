"""Once a service has started, start-up's objects leave the collector's walks and young
objects get room to die young."""

import gc
from collections.abc import Iterator

import pytest

from fairtask_runtime.service import settle_heap
from fairtask_runtime.settings import ServiceSettings


@pytest.fixture
def collector() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("collector")
def test_start_up_objects_are_frozen_and_the_young_generation_grows() -> None:
    built_at_start = [object() for _ in range(3)], {"wiring": ["kept"]}
    assert any(o is built_at_start[1] for o in gc.get_objects())

    settle_heap((5_000, 10, 10))

    assert gc.get_freeze_count() > 0
    assert not any(o is built_at_start[1] for o in gc.get_objects())  # no longer walked
    assert gc.is_tracked(built_at_start[1])  # frozen, not forgotten: still alive and tracked
    assert gc.get_threshold() == (5_000, 10, 10)


def test_the_thresholds_are_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServiceSettings().gc_thresholds == (5_000, 10, 10)
    monkeypatch.setenv("FAIRTASK_GC_THRESHOLDS", "[20000, 20, 10]")
    assert ServiceSettings().gc_thresholds == (20_000, 20, 10)
