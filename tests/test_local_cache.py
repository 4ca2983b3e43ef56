"""The bounded in-process cache behind Entra bearer authentication's hot path."""

from __future__ import annotations

from sso_api.local_cache import LocalCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_until_its_own_deadline() -> None:
    clock = Clock()
    cache: LocalCache[str] = LocalCache(10, clock=clock)
    cache.set("short", "a", seconds=1)
    cache.set("long", "b", seconds=10)

    clock.now += 2

    assert (cache.get("short"), cache.get("long")) == (None, "b")


def test_nothing_is_kept_for_zero_seconds() -> None:
    cache: LocalCache[str] = LocalCache(10)
    cache.set("key", "value", seconds=0)

    assert cache.get("key") is None
    assert len(cache) == 0


def test_the_least_recently_used_entry_goes_first_when_full() -> None:
    cache: LocalCache[int] = LocalCache(3)
    for number in range(3):
        cache.set(number, number, seconds=60)
    cache.get(0)  # used: now the most recent

    cache.set(3, 3, seconds=60)

    assert len(cache) == 3
    assert [cache.get(key) for key in range(4)] == [0, None, 2, 3]


def test_forgetting_a_group_drops_every_entry_tagged_with_it_and_nothing_else() -> None:
    cache: LocalCache[str] = LocalCache(10)
    cache.set(("tenant", "oid-1"), "user 7", seconds=60, group=7)
    cache.set(("tenant", "oid-2"), "user 7", seconds=60, group=7)
    cache.set(("tenant", "oid-3"), "user 8", seconds=60, group=8)

    cache.forget_group(7)

    assert cache.get(("tenant", "oid-1")) is None
    assert cache.get(("tenant", "oid-2")) is None
    assert cache.get(("tenant", "oid-3")) == "user 8"


def test_evicted_and_replaced_entries_leave_no_group_behind() -> None:
    cache: LocalCache[str] = LocalCache(1)
    cache.set("a", "first", seconds=60, group=1)
    cache.set("a", "again", seconds=60, group=2)
    cache.set("b", "other", seconds=60, group=3)  # evicts "a"

    assert cache._keys_by_group == {3: {"b"}}
