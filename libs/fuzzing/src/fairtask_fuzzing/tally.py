"""How many inputs each fuzz target was given, written where docs/reliability.md reads them.

Each fuzz test counts the inputs it sends; at the end of the session the counts are merged into
`.cache/fuzz-tally.json` at the repository root (created if missing), so a full `make test`
leaves the figures of its run there.
"""

import json
import os
from collections import Counter
from pathlib import Path

TRIED: Counter[str] = Counter()


def tried(target: str, count: int = 1) -> None:
    TRIED[target] += count


def write(root: Path) -> Path | None:
    if not TRIED:
        return None
    path = root / ".cache" / "fuzz-tally.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    total = sum(TRIED.values())
    document = {"inputs_tried": total, "by_target": dict(sorted(TRIED.items()))}
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n")
    temporary.replace(path)
    return path
