import sys
from pathlib import Path

import pytest

# The tests share `dispatcher_world`; --import-mode=importlib does not put this folder on the path.
sys.path.insert(0, str(Path(__file__).parent))

from dispatcher_world import World


@pytest.fixture
def world() -> World:
    return World()
