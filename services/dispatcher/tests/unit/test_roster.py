"""The roster forgets a worker gone long enough (the number of their latest connection), and
nobody still connected or busy."""

import pytest

from dispatcher.domain.scheduling.fair_share import FairScheduler
from dispatcher.domain.scheduling.policy import Window, WorkerProfile
from dispatcher.service_layer.roster import Engagement, Roster

AFTER_S = 100.0


def profile(worker_id: str) -> WorkerProfile:
    return WorkerProfile(worker_id, "north", 0, (Window(0, 24 * 60),))


def roster() -> Roster:
    return Roster(FairScheduler(), "r1/0", lambda: None, forget_gone_after_s=AFTER_S)


def test_a_worker_gone_for_the_time_set_is_forgotten() -> None:
    r = roster()
    r.connected(profile("ana"), 3, 0.0)
    r.connected(profile("ben"), 1, 0.0)
    r.gone("ana", 10.0)

    r.warm_up(10.0 + AFTER_S - 1)
    assert r.seqs == {"ana": 3, "ben": 1}
    r.warm_up(10.0 + AFTER_S)
    assert r.seqs == {"ben": 1}


def test_a_worker_back_or_busy_elsewhere_is_kept() -> None:
    r = roster()
    r.connected(profile("ana"), 1, 0.0)
    r.connected(profile("ben"), 1, 0.0)
    r.gone("ana", 10.0)
    r.gone("ben", 10.0)
    r.connected(profile("ana"), 2, 20.0)  # back, on a new connection
    # Still on a lease another replica holds for them.
    r.engage("ben", Engagement("t1", "o1", "l1", "r2/0"), 30.0)

    r.warm_up(10.0 + AFTER_S)

    assert r.seqs == {"ana": 2, "ben": 1}


def test_a_worker_who_comes_and_goes_is_forgotten_after_their_last_departure() -> None:
    r = roster()
    for second in range(1, 500):
        r.connected(profile("ana"), second, float(second))
        r.gone("ana", second + 0.5)

    assert len(r._gone) == 1  # one entry waits to be forgotten, however often they left
    r.warm_up(499.5 + AFTER_S - 1)
    assert r.seqs == {"ana": 499}
    r.warm_up(499.5 + AFTER_S)
    assert r.seqs == {}
    assert not r._gone


def test_the_time_set_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Roster(FairScheduler(), "r1/0", lambda: None, forget_gone_after_s=0.0)
