"""The dispatcher's PostgreSQL schema: its own, named after its Redis prefix unless given."""

import pytest
from pydantic import ValidationError

from dispatcher.config import DispatcherSettings, schema_named_after


@pytest.mark.parametrize(
    ("prefix", "schema"),
    [("dispatch:", "dispatch"), ("bench1a2b:", "bench1a2b"), ("t_9.", "t_9"), ("", "dispatch")],
)
def test_a_plain_prefix_names_the_schema_as_it_is(prefix: str, schema: str) -> None:
    assert DispatcherSettings(redis_prefix=prefix).tables_schema == schema


def test_prefixes_that_differ_only_in_what_a_schema_name_cannot_hold_stay_apart() -> None:
    prefixes = ["a.b:", "a-b:", "A-b:", "DISPATCH:", "dispatch-:", "тест:", "x" * 80 + ":"]
    names = [schema_named_after(p) for p in prefixes] + ["dispatch"]

    assert len(set(names)) == len(names)
    assert all(len(n) <= 63 and n.isascii() for n in names)


def test_a_schema_given_wins() -> None:
    assert DispatcherSettings(redis_prefix="a-b:", postgres_schema="tenant_7").tables_schema == (
        "tenant_7"
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"postgres_schema": "public"},
        {"postgres_schema": "pg_catalog"},
        {"postgres_schema": "information_schema"},
        {"postgres_schema": "Upper"},
        {"postgres_schema": "x" * 64},
        {"redis_prefix": "public:"},
        {"redis_prefix": "pg_x:"},
    ],
)
def test_a_schema_that_is_not_its_own_is_refused_at_start(settings: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="FAIRTASK_POSTGRES_SCHEMA"):
        DispatcherSettings(**settings)
