"""Transaction masks: a trace over part of the ledger without indexing that part anew.

A :class:`Mask` says, per transaction position, whether the transaction exists for a trace.
The search does not follow a hidden transaction and the replay has no events of it, so a
masked trace equals the trace over the ledger with the hidden rows deleted (the same figures;
the provenance still names the whole ledger). What depends on the rows around an account is
taken over the visible rows too: its counterparties (the degree cut-off) and whether it exists
at all (a seed account with no visible transaction is unknown).

One exception: the ``best_case`` same-day order lets a transfer go once the day's deposits into
its source have happened, and is computed once per ledger, hidden deposits included. A hidden
same-day deposit can therefore delay a visible transfer's rank under that policy (its amount
never enters a figure).

Masks are built from a per-transaction compartment code (:func:`compartment_mask`): one
gather, so a caller's mask costs a pass over a byte per transaction, and is cached by the
service per ledger and compartment set.
"""

from __future__ import annotations

import hashlib

import numba as nb
import numpy as np
import numpy.typing as npt

from tracing.index import I64, U64, counterparties
from tracing.ledger import Ledger

Visible = npt.NDArray[np.bool_]
_KNOWN_MAX = 4096  # seed sets whose check a mask remembers


class Mask:
    """Which transactions of one ledger exist for a trace, and what follows from it.

    Build with :meth:`of`. Immutable; the visible counterparties (for the degree cut-off) and
    the nodes with a visible transaction (for the seeds) are counted on first use, once.

    Example
    -------
    >>> mask = Mask.of(ledger, np.ones(ledger.n_transactions, np.bool_))  # doctest: +SKIP
    >>> mask.hidden  # doctest: +SKIP
    0
    """

    __slots__ = ("_degree", "_known", "_ledger", "_touched", "digest", "hidden", "visible")

    def __init__(self, ledger: Ledger, visible: Visible) -> None:
        self._ledger = ledger
        self._degree: I64 | None = None
        self._touched: Visible | None = None
        self._known: dict[bytes, I64] = {}  # `known`'s answers, by the nodes asked about
        self.visible = visible  # per transaction position
        self.hidden = int(len(visible) - np.count_nonzero(visible))
        # Names the mask in a result's provenance: sha256 of the visible positions' bitmap.
        self.digest = hashlib.sha256(np.packbits(visible).tobytes()).hexdigest()

    @classmethod
    def of(cls, ledger: Ledger, visible: Visible) -> Mask:
        """Return the mask of ``ledger`` that keeps the transactions where ``visible`` is true.

        Parameters
        ----------
        ledger
            The ledger the mask applies to.
        visible
            One boolean per transaction position.

        Returns
        -------
        Mask

        Raises
        ------
        ValueError
            When ``visible`` is not one boolean per transaction.

        Example
        -------
        >>> Mask.of(ledger, ledger.amount > 100).hidden  # doctest: +SKIP
        3
        """
        visible = np.ascontiguousarray(visible, np.bool_)
        if visible.shape != (ledger.n_transactions,):
            raise ValueError("a mask has one boolean per transaction of its ledger")
        return cls(ledger, visible)

    def applies_to(self, ledger: Ledger) -> bool:
        """Whether this mask was made for ``ledger`` (positions mean nothing elsewhere)."""
        return ledger is self._ledger or (
            ledger.fingerprint == self._ledger.fingerprint
            and ledger.n_transactions == len(self.visible)
        )

    def touches(self, nodes: I64) -> npt.NDArray[np.bool_]:
        """Per node of ``nodes``: whether it has a visible transaction.

        A node without one does not exist for the trace.
        """
        return self.known(nodes) >= 0

    def known(self, nodes: I64) -> I64:
        """``nodes`` with -1 for each that has no visible transaction (or is -1 already).

        One compiled pass over the nodes' flags (:attr:`touched_nodes`): a trace's seeds are checked
        on every masked trace, and the NumPy operations this replaced cost as much as a local
        trace's search; scanning the seeds' transactions instead, and handing the compiled
        call the four adjacency arrays, cost about a microsecond more per trace.
        """
        key = nodes.tobytes()
        found = self._known.get(key)
        if found is None:
            # a trace's seeds are traced again and again (as `Ledger.nodes_of` remembers them)
            found = _known(nodes, self.touched_nodes)
            if len(self._known) >= _KNOWN_MAX:
                self._known.clear()
            self._known[key] = found
        return found.copy()  # the caller's own: the kept answer must not change

    @property
    def touched_nodes(self) -> Visible:
        """Per node: whether it has a visible transaction.

        One pass over the transactions, made on first use, once.
        """
        if self._touched is None:
            led = self._ledger
            self._touched = _touched(led.src, led.dst, self.visible, led.n_nodes)
        return self._touched

    def knows_account(self, account: int) -> bool:
        """Whether the account (by id) has a visible transaction in any currency."""
        nodes = np.flatnonzero(self._ledger.node_account == account).astype(np.int64)
        return bool(self.touches(nodes).any())

    @property
    def degree(self) -> I64:
        """Per node: distinct counterparties over the visible transactions."""
        if self._degree is None:
            led = self._ledger
            self._degree = counterparties(led.adj, led.src, led.dst, self.visible)
        return self._degree


def compartment_mask(codes: npt.NDArray[np.integer], admitted: npt.NDArray[np.bool_]) -> Visible:
    """Per transaction, whether its compartment is admitted.

    Parameters
    ----------
    codes
        Per transaction position, a small non-negative compartment code.
    admitted
        Per code, whether the caller may see that compartment.

    Returns
    -------
    numpy.ndarray
        One boolean per transaction.

    Example
    -------
    >>> compartment_mask(np.array([0, 1, 2]), np.array([True, False, True])).tolist()
    [True, False, True]
    """
    visible: Visible = np.asarray(admitted, np.bool_)[codes]
    return visible


def bits_at(bits: U64, nodes: I64, keep: U64) -> I64:
    """Return the bits set at any of ``nodes``, among those set in ``keep``, ascending.

    With flags per node (say, which compartments its transactions are in), the flags of a
    trace's reached nodes. One compiled pass: the NumPy gather, reduction and Python loop over
    the bits it replaced cost several microseconds after every trace, some per cent of a local
    one.

    Parameters
    ----------
    bits
        uint64, a row per 64 bits and a word per node: bit ``b`` of node ``v`` is bit
        ``b % 64`` of ``bits[b // 64, v]``.
    nodes
        int64 node positions (columns of ``bits``).
    keep
        uint64, a word per row of ``bits``: the bits asked about.

    Example
    -------
    >>> bits = np.array([[0b0011, 0b0100, 0b1000]], np.uint64)
    >>> bits_at(bits, np.array([0, 1]), np.array([0b1110], np.uint64)).tolist()
    [1, 2]
    """
    found: I64 = _bits_at(bits, nodes, keep)
    return found


@nb.njit(cache=True, nogil=True)
def _bits_at(bits: U64, nodes: I64, keep: U64) -> I64:  # pragma: no cover - compiled
    found = np.empty(64 * bits.shape[0], np.int64)
    n = 0
    for row in range(bits.shape[0]):
        word = np.uint64(0)
        for i in range(nodes.shape[0]):
            word |= bits[row, nodes[i]]
        word &= keep[row]
        for b in range(64):
            if (word >> np.uint64(b)) & np.uint64(1):
                found[n] = 64 * row + b
                n += 1
    return found[:n]


@nb.njit(cache=True, nogil=True)
def _known(nodes: I64, touched: Visible) -> I64:  # pragma: no cover - compiled
    known = np.empty(nodes.shape[0], np.int64)
    for i in range(nodes.shape[0]):
        v = nodes[i]
        known[i] = v if v >= 0 and touched[v] else -1
    return known


@nb.njit(cache=True, nogil=True)
def _touched(src: I64, dst: I64, visible: Visible, n_nodes: int) -> Visible:  # pragma: no cover
    touched = np.zeros(n_nodes, np.bool_)
    for t in range(visible.shape[0]):
        if visible[t]:
            touched[src[t]] = True
            touched[dst[t]] = True
    return touched
