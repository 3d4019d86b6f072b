"""The legal status of an asset and the moves the law allows between them (DESIGN §5)."""

from enum import StrEnum


class LegalStatus(StrEnum):
    IDENTIFIED = "IDENTIFIED"
    TRACED = "TRACED"
    SUSPENDED = "SUSPENDED"
    FROZEN = "FROZEN"
    SEIZED = "SEIZED"
    CONFISCATION_ORDERED = "CONFISCATION_ORDERED"
    UNDER_APPEAL = "UNDER_APPEAL"
    CONFISCATED = "CONFISCATED"
    REALISED = "REALISED"
    DISPOSED = "DISPOSED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"
    DISSIPATED = "DISSIPATED"
    SUBSTITUTED = "SUBSTITUTED"


L = LegalStatus
TRANSITIONS: dict[LegalStatus, tuple[LegalStatus, ...]] = {
    # -> SEIZED without a freeze: an urgent seizure (cash at a border, a car at a search), where
    # the legal basis allows it; recorded as `urgent_seizure` with that basis.
    L.IDENTIFIED: (L.TRACED, L.SUSPENDED, L.FROZEN, L.SEIZED),
    L.TRACED: (L.SUSPENDED, L.FROZEN, L.SEIZED),
    # A lapsed suspension is an expiry like any other: the sweep records it, then RELEASED.
    L.SUSPENDED: (L.FROZEN, L.RELEASED, L.DISSIPATED),
    # FROZEN -> FROZEN, SEIZED -> SEIZED: renewal, extension (further detention), variation,
    # partial release, and a challenge lodged or dismissed (the measure stays in force; an
    # upheld challenge is RELEASED, set_aside_on_challenge).
    # -> SUBSTITUTED: an interlocutory sale; the proceeds, a new cash asset, stay frozen or
    # seized as the sold asset was (Directive (EU) 2024/1260).
    L.FROZEN: (L.FROZEN, L.SEIZED, L.RELEASED, L.EXPIRED, L.CONFISCATION_ORDERED, L.SUBSTITUTED),
    L.SEIZED: (L.SEIZED, L.FROZEN, L.RELEASED, L.EXPIRED, L.CONFISCATION_ORDERED, L.SUBSTITUTED),
    L.CONFISCATION_ORDERED: (L.CONFISCATED, L.UNDER_APPEAL),
    # Appeal outcomes: upheld, set aside, or varied (back to a new first-instance order).
    L.UNDER_APPEAL: (L.CONFISCATED, L.RELEASED, L.CONFISCATION_ORDERED),
    L.CONFISCATED: (L.REALISED, L.DISPOSED),
    L.REALISED: (L.DISPOSED,),
    L.EXPIRED: (L.RELEASED,),
    L.DISPOSED: (),
    L.RELEASED: (),
    L.DISSIPATED: (),
    L.SUBSTITUTED: (),
}
# States in which (part of) the asset is held by a measure in force.
RESTRAINED = frozenset({L.SUSPENDED, L.FROZEN, L.SEIZED, L.CONFISCATION_ORDERED, L.UNDER_APPEAL})
# States whose measure lapses at its expiry: the sweep moves them to EXPIRED.
LAPSING = frozenset({L.SUSPENDED, L.FROZEN, L.SEIZED})
# States whose measure may carry a deadline (the appeal window of a confiscation order too).
TIME_LIMITED = frozenset({*LAPSING, L.CONFISCATION_ORDERED})
# Moves that record a legal act: they need the order and who issued it.
ORDERS = frozenset({L.SUSPENDED, L.FROZEN, L.SEIZED, L.CONFISCATION_ORDERED, L.CONFISCATED})
# Measures that can be challenged while they hold (effective remedy); a confiscation order is
# appealed instead (UNDER_APPEAL).
CHALLENGEABLE = frozenset({L.FROZEN, L.SEIZED})
# Before these a seizure is urgent: no freeze came first.
UNFROZEN = frozenset({L.IDENTIFIED, L.TRACED})


def allowed_moves(status: str) -> list[LegalStatus]:
    return list(TRANSITIONS[LegalStatus(status)])


def describe_machine() -> str:
    """The moves as Markdown lines, for the OpenAPI document."""
    return "\n".join(
        f"- `{state}` → " + (", ".join(f"`{t}`" for t in moves) if moves else "(final)")
        for state, moves in TRANSITIONS.items()
    )
