"""Weight edits as undoable commands on the Qt-free Balance (QUndoStack: Ctrl+Z, Ctrl+Shift+Z)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtGui import QUndoCommand

from level_desktop.core.balance import Balance

NOISE_ID = -1
MERGE_WINDOW_S = 1.0  # spin-box steps on one cluster this close together undo as one step
SINGLE_WEIGHT_MERGE_ID = 1


@dataclass(frozen=True)
class WeightState:
    """Every cluster's weight and the noise weight, as one value."""

    weights: tuple[float, ...]
    noise_weight: float

    @classmethod
    def of(cls, balance: Balance) -> WeightState:
        return cls(tuple(float(w) for w in balance.weights), float(balance.noise_weight))

    def with_weight(self, balance: Balance, cluster_id: int, weight: float) -> WeightState:
        if cluster_id == NOISE_ID:
            return WeightState(self.weights, float(weight))
        index = int(np.flatnonzero(balance.cluster_ids == cluster_id)[0])
        weights = list(self.weights)
        weights[index] = float(weight)
        return WeightState(tuple(weights), self.noise_weight)

    def apply_to(self, balance: Balance) -> None:
        balance.set_weights(np.array(self.weights, dtype=np.float64), noise_weight=self.noise_weight)


class WeightCommand(QUndoCommand):
    """Move the balance from one weight state to another; consecutive edits of one cluster merge."""

    def __init__(self, balance: Balance, before: WeightState, after: WeightState, text: str,
                 cluster_id: int | None = None) -> None:
        super().__init__(text)
        self._balance = balance
        self.before = before
        self.after = after
        self.cluster_id = cluster_id
        self._last_edit = time.monotonic()

    def redo(self) -> None:
        self.after.apply_to(self._balance)

    def undo(self) -> None:
        self.before.apply_to(self._balance)

    def id(self) -> int:
        return SINGLE_WEIGHT_MERGE_ID if self.cluster_id is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, WeightCommand) or other.cluster_id != self.cluster_id:
            return False
        if other._last_edit - self._last_edit > MERGE_WINDOW_S:
            return False
        self.after = other.after
        self._last_edit = other._last_edit
        self.setText(other.text())
        return True


def set_weight_command(balance: Balance, cluster_id: int, weight: float, label: str
                       ) -> WeightCommand | None:
    """The command for one spin-box edit, or None when the weight is already that value."""
    before = WeightState.of(balance)
    after = before.with_weight(balance, cluster_id, weight)
    if after == before:
        return None
    return WeightCommand(balance, before, after, f"Weight of {label} → {weight:.2f}", cluster_id)


def set_all_weights_command(balance: Balance, weights: np.ndarray, text: str,
                            noise_weight: float | None = None) -> WeightCommand | None:
    """The command for Flatten or Reset, or None when nothing would change."""
    before = WeightState.of(balance)
    after = WeightState(tuple(float(w) for w in weights),
                        before.noise_weight if noise_weight is None else float(noise_weight))
    if after == before:
        return None
    return WeightCommand(balance, before, after, text)
