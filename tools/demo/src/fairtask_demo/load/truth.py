"""What the demo's items really show, and how a simulated worker answers them.

Each item's true label follows from its payload, so platforms (for gold answers and to judge
aggregates afterwards) and workers (who "see" the item) agree on it without talking. A worker
answers it right with their own accuracy, else gives the other label: the disagreement that
several answers per task and their aggregation exist to overcome.
"""

import random
import zlib

LABELS = ("label-A", "label-B")


def true_label(payload: bytes) -> str:
    return LABELS[zlib.crc32(payload) % len(LABELS)]


def answer_of(payload: bytes, accuracy: float, rng: random.Random) -> str:
    truth = true_label(payload)
    if rng.random() < accuracy:
        return truth
    return next(label for label in LABELS if label != truth)
