"""Claimants: whose taint each account holds, received and let go (DESIGN §3b).

Seeds may name a claimant (an account seed its ``claimant``, a seed transaction through
``transaction_claimants``); taint without one is *unattributed*. A claimant is labelled per
currency (taint never changes currency), labels in the order of ``(claimant, currency)`` and
the unattributed ones last. The labelled replay
(:mod:`tracing.labelled`) gives held and received per account and label; under ``pari_passu``
each account's held taint is then shared by what each label gave it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numba as nb
import numpy as np
import polars as pl

from tracing.errors import ConservationError
from tracing.graph import CancelCheck
from tracing.index import I64
from tracing.labelled import Labels, replay_labelled
from tracing.params import ClaimantRule, TraceParams
from tracing.replay import INTO_SEED, EventColumns, Placements
from tracing.rules.shares import pari_passu

CLAIMANT = "claimant"


@dataclass(frozen=True, slots=True)
class Shares:
    """Claimants' shares: entries per (account, label), sorted by account then label.

    ``node`` indexes the reach's nodes; ``names`` and ``currency`` are per label (label
    ``k`` at ``k - 1``; a name of None is unattributed taint).
    """

    node: I64
    label: I64
    received: I64
    held: I64
    exited: I64  # per label (index 0 unused)
    names: tuple[str | None, ...]
    currency: tuple[str, ...]


def seed_labels(
    params: TraceParams, named_inflows: tuple[tuple[str, str], ...] = ()
) -> tuple[list[tuple[str | None, str]], I64]:
    """Return the labels ``(claimant, currency)`` and each seed's label (1-based).

    ``named_inflows`` are the ``(claimant, currency)`` of seed transactions naming one.
    """
    keys = {(s.claimant, s.currency) for s in params.seeds} | set(named_inflows)
    named = sorted(k for k in keys if k[0] is not None)
    unnamed = sorted(k[1] for k in keys if k[0] is None)
    labels: list[tuple[str | None, str]] = [*named, *((None, c) for c in unnamed)]
    index = {key: i + 1 for i, key in enumerate(labels)}
    return labels, np.array([index[s.claimant, s.currency] for s in params.seeds], np.int64)


class NamedInflows(NamedTuple):
    """Seed transactions naming a claimant: per one, its slot, claimant and currency."""

    slot: I64
    claimant: tuple[str, ...]
    currency: tuple[str, ...]


def claimant_shares(
    params: TraceParams,
    ev: EventColumns,
    placed: Placements,
    placed_seed: I64,
    opening: I64,
    held: I64,
    node_currency: I64,
    currencies: Sequence[str],
    named: NamedInflows,
    carried: I64 | None,
    received: I64,
    *,
    cancelled: CancelCheck | None,
) -> Shares:
    """Replay with the seeds' claimants as labels; check each account's shares sum to ``held``.

    ``placed_seed`` gives, per placement, its seed (index in ``params.seeds``);
    ``node_currency`` gives each reached account's currency (an index in ``currencies``; seed
    transactions' taint is unattributed in its currency, but for those in ``named``: their
    claimant's). ``carried`` is per slot the taint each withdrawal carried in the rule's
    replay of ``ev``, if no account went overdrawn in it (see
    :func:`tracing.labelled.replay_labelled`); ``received`` per account the taint it received
    in that replay.
    """
    pairs = tuple(zip(named.claimant, named.currency, strict=True))
    labels, of_seed = seed_labels(params, pairs)
    used = np.unique(node_currency).tolist()
    unattributed = np.zeros(len(currencies), np.int64)
    for code in sorted(currencies[i] for i in used):
        if (None, code) not in labels:
            labels.append((None, code))
        unattributed[currencies.index(code)] = labels.index((None, code)) + 1
    # zeros are mapped lazily: only the seed transactions' slots are written (and read)
    inflow = np.zeros(len(ev.route), np.int64)
    if len(ev.key):  # a deposit routed INTO_SEED is a seed transaction: unattributed
        _into_seed(ev.key, ev.slot, ev.who, ev.route, unattributed[node_currency], inflow)
    inflow[named.slot] = [labels.index(pair) + 1 for pair in pairs]
    by = params.shares_by
    out = replay_labelled(
        params.rule,
        by,
        ev,
        placed,
        Labels(of_seed[placed_seed], inflow, np.empty(0, np.int64), np.empty(0, np.int64)),
        opening,
        len(labels),
        carried=carried,
        tainted=received > 0,
        cancelled=cancelled,
    )
    r_node, r_label, r_amount = out.received
    if not _ascending(r_node, r_label):  # the dense rows' entries are, the vectors' may not be
        order = np.lexsort((r_label, r_node))
        r_node, r_label, r_amount = r_node[order], r_label[order], r_amount[order]
    if by is ClaimantRule.PARI_PASSU:
        kept = pari_passu(r_node, r_label, r_amount, held)
    else:
        kept = np.zeros(len(r_node), np.int64)
        h_node, h_label, h_amount = out.held
        width = len(labels) + 1
        at = np.searchsorted(r_node * width + r_label, h_node * width + h_label)
        np.add.at(kept, at, h_amount)
    totals = np.zeros(len(held), np.int64)
    np.add.at(totals, r_node, kept)
    if (totals != held).any():
        raise ConservationError("claimants' shares do not sum to the taint held")
    return Shares(
        r_node,
        r_label,
        r_amount,
        kept,
        out.exited,
        tuple(name for name, _ in labels),
        tuple(code for _, code in labels),
    )


@nb.njit(cache=True, nogil=True)
def _into_seed(  # pragma: no cover - compiled
    key: I64, slot: I64, who: I64, route: np.ndarray, payee_label: I64, inflow: I64
) -> None:
    """Set ``inflow`` of each deposit routed INTO_SEED to its payee's ``payee_label``."""
    for e in range(key.shape[0]):
        if key[e] & 1 and route[slot[e]] == INTO_SEED:
            inflow[slot[e]] = payee_label[who[e]]


@nb.njit(cache=True, nogil=True)
def _ascending(node: I64, label: I64) -> bool:  # pragma: no cover - compiled
    """Whether the entries are sorted by account, then label."""
    for i in range(1, node.shape[0]):
        if node[i] < node[i - 1] or (node[i] == node[i - 1] and label[i] < label[i - 1]):
            return False
    return True


def claimants_frame(
    shares: Shares, accounts: pl.Series, currencies: pl.Series, money: Any
) -> pl.DataFrame:
    """One row per account and claimant: ``received`` and ``held`` (``money``: build.Money).

    ``accounts`` and ``currencies`` name each reached node (aligned with the reach's nodes).
    """
    names = pl.Series(CLAIMANT, [None, *shares.names], pl.String)
    per_label = np.array([0, *(money.codes.index(c) for c in shares.currency)], np.int64)
    idx = pl.Series(shares.node)
    frame = pl.DataFrame(
        [
            accounts.gather(idx),
            currencies.gather(idx),
            names.gather(pl.Series(shares.label)),
            *money.columns(
                {"received": shares.received, "held": shares.held}, per_label[shares.label]
            ),
            pl.Series("_label", shares.label, pl.Int64),
        ]
    )
    return frame.sort(accounts.name, currencies.name, "_label").drop("_label")


def claimants_summary(shares: Shares, money: Any) -> dict[str, Any]:
    """Per claimant and currency: total ``held`` and ``exited`` (unattributed taint left out).

    ``exited`` is what left with the claimant's share pro rata (the rule in force); under
    ``pari_passu`` ``held`` is then shared anew, so held + exited is conserved over all the
    claimants, not per claimant.
    """
    held = np.zeros(len(shares.names) + 1, np.int64)
    np.add.at(held, shares.label, shares.held)
    out: dict[str, Any] = {}
    for k, (name, code) in enumerate(zip(shares.names, shares.currency, strict=True), 1):
        if name is None:
            continue
        out.setdefault(name, {})[code] = {
            "held": money.text(int(held[k]), code),
            "exited": money.text(int(shares.exited[k]), code),
        }
    return out
