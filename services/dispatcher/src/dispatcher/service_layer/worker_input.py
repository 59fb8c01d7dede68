"""What a worker may tell us about themselves, checked one violation per problem.

Shared by registration (fields named plainly) and a connection's hello (fields under `hello.`),
so a time zone refused at one is refused at the other with the same words.
"""

import re
from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dispatcher.domain.availability import parse_windows
from dispatcher.domain.errors import Violation

_WORKER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_REGION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
# As task types name their skills, so a worker's skill can match a task's.
_SKILL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_MAX_ZONE_CHARS = 64
MAX_SKILLS = 32


def identity_violations(worker_id: str, region: str) -> list[Violation]:
    """worker_id may be empty (the server mints one); region may not."""
    found: list[Violation] = []
    if worker_id and not _WORKER_ID.match(worker_id):
        found.append(
            Violation("worker_id", "must be 1-64 of A-Z a-z 0-9 . _ - starting with a letter")
        )
    if not _REGION.match(region):
        found.append(Violation("region", "must be 1-32 of A-Z a-z 0-9 _ - (e.g. 'ph')"))
    return found


def profile_violations(
    at: str,
    time_zone: str | None,
    skills: Sequence[str] | None,
    availability: Sequence[str] | None,
) -> list[Violation]:
    """Problems with the fields given; None means "not given" and is never a problem."""
    found: list[Violation] = []
    if time_zone is not None and not known_zone(time_zone):
        found.append(Violation(f"{at}time_zone", f"unknown time zone {time_zone[:64]!r}"))
    if skills is not None:
        if len(skills) > MAX_SKILLS:
            found.append(Violation(f"{at}skills", f"at most {MAX_SKILLS} skills"))
        else:
            found += [
                Violation(f"{at}skills[{i}]", "must be 1-32 of a-z 0-9 _ -")
                for i, skill in enumerate(skills)
                if not _SKILL.match(skill)
            ]
    if availability is not None:
        found += parse_windows(tuple(availability), f"{at}availability")[1]
    return found


def known_zone(name: str) -> bool:
    if not name or len(name) > _MAX_ZONE_CHARS:
        return False
    try:
        ZoneInfo(name)
    # OSError: a folder of zones such as "America" is found, but is not a zone.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
