"""The divergence guard: a run whose loss shoots far above its recent level fails at once, with the numbers.

After every step the total loss is compared with the median of the ``window`` losses before it; a loss above
``factor`` times that median fails the run (:class:`~benchmark.run.failures.Diverged`: ``diverged at iteration
N: loss X vs running median Y``). The first ``min(window, MIN_HISTORY)`` steps only fill the window. The guard
also keeps the largest loss and the largest ratio it saw (``metrics.json`` ``stability``), what the stability
sweep reports per run. Non-finite losses are stopped before it (``NonFiniteLoss``). Its state is part of
``last.pt`` so a resumed run judges exactly as an uninterrupted one.

At a stage switch of a stage-wise run (:meth:`DivergenceGuard.restart`) the window starts afresh: the new stage's
loss is another quantity (another teacher's features, a criterion built anew), so its first value is not judged
against the last stage's. Judging it there stopped DFMSD's two-teacher curriculum (S-a) at its switch: loss 36.2
vs running median 0.93 when the Faster R-CNN teacher replaced the RetinaNet one and the generators restarted.
"""

from __future__ import annotations

import statistics
from collections import deque
from typing import Any

from benchmark.run.failures import Diverged
from benchmark.run.metrics import Stability

MIN_HISTORY = 20


class DivergenceGuard:
    def __init__(self, factor: float | None, window: int) -> None:
        self.factor = factor
        self.window = window
        self.history: deque[float] = deque(maxlen=window)
        self.stats = Stability(window=window)

    def observe(self, iteration: int, loss: float) -> None:
        """Record the loss of step ``iteration`` (1-based); :class:`Diverged` when it is ``factor`` x the median."""
        if len(self.history) >= min(self.window, MIN_HISTORY):
            median = statistics.median(self.history)
            ratio = loss / median if median > 0 else float("inf") if loss > 0 else 1.0
            if self.stats.max_ratio is None or ratio > self.stats.max_ratio:
                self.stats.max_ratio, self.stats.max_ratio_iter = ratio, iteration
            if self.factor is not None and ratio > self.factor:
                raise Diverged(
                    f"diverged at iteration {iteration}: loss {loss:.4g} vs running median {median:.4g} "
                    f"(> train.diverge_factor={self.factor:g} x; set it to null to turn the guard off)"
                )
        if self.stats.max_loss is None or loss > self.stats.max_loss:
            self.stats.max_loss = loss
        self.history.append(loss)

    def restart(self) -> None:
        """A new stage begins: forget the window (the extremes seen so far are kept)."""
        self.history.clear()

    def state_dict(self) -> dict[str, Any]:
        s = self.stats
        return {"history": list(self.history), "max_loss": s.max_loss, "max_ratio": s.max_ratio, "at": s.max_ratio_iter}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = deque(state["history"], maxlen=self.window)
        self.stats = Stability(state["max_loss"], state["max_ratio"], state["at"], self.window)
