"""The dispatcher's PostgreSQL schema: its own, named after its Redis prefix unless given."""

import pytest
from pydantic import ValidationError

from dispatcher.config import DispatcherSettings, schema_named_after


@pytest.mark.parametrize(
    ("prefix", "schema"), [("dispatch:", "dispatch"), ("bench1a2b:", "bench1a2b"), ("t_9:", "t_9")]
)
def test_a_plain_prefix_names_the_schema_as_it_is(prefix: str, schema: str) -> None:
    assert DispatcherSettings(redis_prefix=prefix).tables_schema == schema


def test_every_other_prefix_gets_a_schema_of_its_own() -> None:
    prefixes = ["dispatch:", "", "dispatch", "dispatch::", "dispatch.", "DISPATCH:", "a.b:"]
    prefixes += ["a-b:", "A-b:", "тест:", "42:", "pg_x:", "public:", "x" * 80 + ":"]
    names = [schema_named_after(p) for p in prefixes]

    assert len(set(names)) == len(names)
    for prefix in prefixes:
        # Each is a schema the settings accept.
        DispatcherSettings(redis_prefix=prefix)


def test_a_schema_given_wins() -> None:
    assert DispatcherSettings(redis_prefix="a-b:", postgres_schema="tenant_7").tables_schema == (
        "tenant_7"
    )


@pytest.mark.parametrize(
    "schema", ["public", "pg_catalog", "information_schema", "Upper", "x" * 64, "9lives"]
)
def test_a_schema_that_is_not_its_own_is_refused_at_start(schema: str) -> None:
    with pytest.raises(ValidationError, match="FAIRTASK_POSTGRES_SCHEMA"):
        DispatcherSettings(postgres_schema=schema)
