"""Gold results counted into worker quality, and the eligibility changes announced."""

from fairtask_runtime.clock import FakeClock
from scoring.adapters.memory import MemoryPorts, MemoryQualityEvents
from scoring.domain.events import EligibilityChange
from scoring.domain.model import Submission, TaskRecord
from scoring.service_layer.handlers import RememberTask, ScoreSubmission, ScoringHandlers

GOLD = TaskRecord("t-gold", "p-1", "c-gold", "label", gold_answer="cat")


async def _answer_gold(handlers: ScoringHandlers, sid: str, answer: bytes, worker: str) -> None:
    await handlers.remember_task(RememberTask(GOLD))
    submission = Submission(sid, GOLD.task_id, worker, answer, region="ke", price_micros=1)
    await handlers.score_submission(ScoreSubmission(submission))


async def test_a_worker_failing_gold_is_kept_out_once_and_let_back_after_passing(
    ports: MemoryPorts, clock: FakeClock
) -> None:
    handlers = ports.handlers(clock)
    for i in range(8):
        await _answer_gold(handlers, f"s-{i}", b"dog", "w-1")
    [out] = ports.quality_events.published
    assert (out.worker_id, out.platform_id, out.task_type, out.eligible) == (
        "w-1",
        "p-1",
        "label",
        False,
    )
    assert out.gold_failed < 8  # announced as soon as it was certain, then not again
    # The same submission again counts nothing.
    await _answer_gold(handlers, "s-0", b"dog", "w-1")
    assert ports.quality.tallies[("w-1", "p-1", "label")] == [0, 8]
    assert ports.quality.claims[("w-1", "p-1", "label")][:1] == (False,)

    for i in range(30):
        await _answer_gold(handlers, f"p-{i}", b"cat", "w-1")
    back = ports.quality_events.published[-1]
    assert back.eligible
    assert len(ports.quality_events.published) == 2


async def test_a_newcomer_and_a_good_worker_are_never_announced(
    ports: MemoryPorts, clock: FakeClock
) -> None:
    handlers = ports.handlers(clock)
    await _answer_gold(handlers, "s-1", b"dog", "w-new")  # one miss says little
    for i in range(10):
        await _answer_gold(handlers, f"g-{i}", b" Cat ", "w-good")
    assert ports.quality_events.published == []


class _FailingOnce(MemoryQualityEvents):
    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def publish(self, change: EligibilityChange) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("kafka away")
        await super().publish(change)


async def test_an_announcement_lost_to_a_failure_is_made_by_the_rerun(clock: FakeClock) -> None:
    ports = MemoryPorts(quality_events=_FailingOnce())
    handlers = ports.handlers(clock)
    for i in range(7):
        try:
            await _answer_gold(handlers, f"s-{i}", b"dog", "w-1")
        except ConnectionError:
            # The consumer retries the same submission.
            await _answer_gold(handlers, f"s-{i}", b"dog", "w-1")
    assert [c.eligible for c in ports.quality_events.published] == [False]


async def test_a_newer_tally_never_loses_to_an_older_claim(ports: MemoryPorts) -> None:
    """Two results of one worker scored at once: the later claim wins, and an announcement
    still pending is carried by the newer one rather than dropped."""
    book = ports.quality
    key = ("w-1", "p-1", "label")
    assert await book.claim(*key, 5, False)  # v5 says: out; its publish is still pending
    assert await book.claim(*key, 6, False)  # v6 agrees and takes the pending announcement
    assert not await book.claim(*key, 5, False)  # the older one may not announce any more
    await book.published(*key, 6)
    assert not await book.claim(*key, 6, False)
    assert await book.claim(*key, 7, True)  # a real change
