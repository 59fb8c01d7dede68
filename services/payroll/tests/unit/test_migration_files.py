"""The migration files themselves, and how the runner reads a directory."""

from pathlib import Path

import pytest

from fairtask_runtime.postgres_migrations import MigrationError, load_migrations
from payroll.adapters.postgres import DEFAULT_DIRECTORY


def test_the_shipped_migrations_load_in_order() -> None:
    migrations = load_migrations(DEFAULT_DIRECTORY)

    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert Path(__file__).resolve().parents[2] / "migrations" == DEFAULT_DIRECTORY


def test_a_checksum_changes_with_the_text(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    before = load_migrations(tmp_path)[0].checksum
    (tmp_path / "0001_a.sql").write_text("SELECT 2;")
    assert load_migrations(tmp_path)[0].checksum != before


@pytest.mark.parametrize(
    ("names", "error"),
    [
        (["1_short.sql"], "not named"),
        (["0001_Upper.sql"], "not named"),
        (["0001_a.sql", "0001_b.sql"], "twice"),
        ([], "no migrations"),
    ],
)
def test_a_bad_directory_is_refused(tmp_path: Path, names: list[str], error: str) -> None:
    for name in names:
        (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=error):
        load_migrations(tmp_path)
