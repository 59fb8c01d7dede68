import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def stack_dir() -> Iterator[Path]:
    """A fresh directory for a local stack a test starts itself (make run, make chaos). Not
    under pytest's tmp_path: PostgreSQL's user must reach its data dir there."""
    path = Path(tempfile.mkdtemp(prefix="fairtask-stack-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
