"""Names folded for search: one Latin, lower-case, accent-free form whatever the script.

The folding is rigour's (OpenSanctions' name handling, which followthemoney brings): its ICU
transliteration reads Cyrillic, Greek and Arabic as Latin, and a phonetic code per token
(metaphone) lets a transliteration meet the spelling a bank used ("Tsipras", "Salman").
rigour comes with the `ftm` extra, which needs PyICU built; without it names fold by Unicode
decomposition only (case and accents), and other scripts match only in their own script.
"""

import re
import unicodedata
from collections.abc import Callable

ascii_text: Callable[[str], str] | None
metaphone: Callable[[str], str] | None
try:
    from rigour.text import ascii_text, metaphone
except ImportError:  # pragma: no cover - the wheels-only install, without the ftm extra
    ascii_text = metaphone = None

_TOKEN = re.compile(r"[^\W_]+")
# Phonetic codes sit in the same index as the tokens, marked so that no word can equal one.
SOUND_MARK = "0"
# Metaphone keeps an H between consonants ("mohammed" MHMT) that a transliteration without
# vowels lacks ("mhmd" MMT); dropping it lets the two meet.
_WEAK = str.maketrans("", "", "H")


def fold(text: str) -> str:
    """Lower-case Latin letters and digits, accents and script folded away."""
    if ascii_text is not None:
        return ascii_text(text).lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """The words of `text`, folded, in order."""
    return _TOKEN.findall(fold(text))


def sound(token: str) -> str | None:
    """The token's phonetic code, marked, or None (no rigour, digits, or too short)."""
    if metaphone is None or not token.isalpha() or len(token) < 2:
        return None
    code = metaphone(token).translate(_WEAK).lower()
    return f"{SOUND_MARK}{code}" if code else None


def search_text(name: str) -> str:
    """What the search index holds for a party's name: its folded words and their sounds."""
    words = tokens(name)
    sounds = {s for w in words if (s := sound(w)) is not None}
    return " ".join([*words, *sorted(sounds)])[:4000]


# Blocking: two names meet when two of their words agree by one key each, the word itself,
# its sound, or its first three letters, so that a typo past the third letter, or one that keeps
# the sound, still meets the name it mistypes. A name of one word meets by that word's keys.
BLOCK_PREFIX = 3
BLOCK_WORDS = 6


def block_keys(token: str) -> tuple[str, str | None, str | None]:
    """(word, sound, prefix) of a folded token; the prefix only for longer words."""
    prefix = token[:BLOCK_PREFIX] if len(token) >= BLOCK_PREFIX else None
    return token, sound(token), prefix


def blocks(name: str) -> list[tuple[tuple[str, str | None, str | None], ...]]:
    """The groups of keys a resembling name must meet, one group per pair of words (or the
    one word): a search-index query ORs the groups and ANDs within each."""
    words = list(dict.fromkeys(tokens(name)))[:BLOCK_WORDS]
    keys = [block_keys(w) for w in words]
    if len(keys) < 2:
        return [tuple(keys)] if keys else []
    return [(a, b) for i, a in enumerate(keys) for b in keys[i + 1 :]]
