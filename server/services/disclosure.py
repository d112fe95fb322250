"""Small-count suppression: figures about sensitive cases (gender-based violence, threats...)
shown to readers without the personal-data permission never say "1" or "2", which in a small
district can point at a person. Pure: pages now, indicators later, call the same function.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

SMALL_COUNT = 5  # counts from 1 to 4 are suppressed (a common threshold in protection work)
SUPPRESSED = "<5"

Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class Counts(Generic[Key]):
    """Counts as a reader may see them: each an int, or "<5"; and their total."""

    cells: dict[Key, int | str]
    total: int | str
    suppressed: bool  # whether anything was hidden

    def get(self, key: Key, default: int | str = 0) -> int | str:
        return self.cells.get(key, default)


def suppress_small_counts(counts: Mapping[Key, int], *, threshold: int = SMALL_COUNT
                          ) -> Counts[Key]:
    """Counts from 1 to threshold - 1 become "<5"; 0 and larger counts stay as they are.

    The total must not give a hidden cell back by subtraction: when a cell is hidden, the total
    is the sum of the cells shown followed by "+" (at least that many), or "<5" when the whole
    is that small, or "5+" when nothing else is shown.
    """
    cells: dict[Key, int | str] = {}
    shown = 0
    hidden = False
    for key, count in counts.items():
        if 0 < count < threshold:
            cells[key], hidden = _marker(threshold), True
        else:
            cells[key] = count
            shown += count
    whole = sum(counts.values())
    if not hidden:
        total: int | str = whole
    elif whole < threshold:
        total = _marker(threshold)
    else:
        total = f"{shown or threshold}+"
    return Counts(cells=cells, total=total, suppressed=hidden)


def unsuppressed(counts: Mapping[Key, int]) -> Counts[Key]:
    """The same shape for a reader who may see every figure."""
    return Counts(cells=dict(counts), total=sum(counts.values()), suppressed=False)


def _marker(threshold: int) -> str:
    return SUPPRESSED if threshold == SMALL_COUNT else f"<{threshold}"
