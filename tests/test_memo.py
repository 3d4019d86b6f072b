"""The bounded cache: never more entries or bytes than its bounds, least recently used out."""

from app.account.keys import NORMALISED, normalise_key
from app.memo import ENTRY_OVERHEAD, BoundedCache


def _size(key: str, value: str) -> int:
    return len(key) + len(value)


def test_the_cache_keeps_to_its_entry_count_dropping_the_least_recently_used() -> None:
    cache = BoundedCache[str, str](max_entries=2, max_bytes=10_000, size_of=_size)
    computed: list[str] = []

    def upper(key: str) -> str:
        computed.append(key)
        return key.upper()

    assert cache.get_or_compute("a", upper) == "A"
    cache.get_or_compute("b", upper)
    cache.get_or_compute("a", upper)  # a is now the most recently used
    cache.get_or_compute("c", upper)  # so b goes
    cache.get_or_compute("a", upper)
    cache.get_or_compute("b", upper)
    assert computed == ["a", "b", "c", "b"]
    assert len(cache) == 2


def test_the_cache_keeps_to_its_bytes() -> None:
    budget = 3 * (ENTRY_OVERHEAD + 20)
    cache = BoundedCache[str, str](max_entries=1000, max_bytes=budget, size_of=_size)
    for i in range(50):
        cache.get_or_compute(f"key-{i:05d}", lambda k: k[::-1])  # 18 bytes + overhead
        assert cache.bytes <= budget
    assert len(cache) == 3
    # A value larger than the whole budget is answered, never kept.
    assert cache.get_or_compute("x" * budget, lambda k: k) == "x" * budget
    assert len(cache) == 3


def test_key_normalisation_is_cached_within_its_bounds() -> None:
    given = "IBAN:de89 3704 0044 0532 0130 00"
    assert normalise_key(given) == "iban:DE89370400440532013000"
    assert normalise_key("iban:not a key") is None
    assert normalise_key(given) == "iban:DE89370400440532013000"
    assert len(NORMALISED) <= NORMALISED.max_entries
    assert NORMALISED.bytes <= NORMALISED.max_bytes
