"""How a run ends without finishing: each exception's ``str`` is the one-line reason written to status.json."""

from __future__ import annotations


class RunFailed(RuntimeError):
    """The run ended without finishing; ``str(exc)`` is the one-line reason written to status.json."""


class NonFiniteLoss(RunFailed):
    """A loss term was NaN or infinite."""


class Diverged(RunFailed):
    """The loss rose far above its running median (the divergence guard, ``train.diverge_factor``)."""


class TeacherRejected(RunFailed):
    """A stage's teacher is not fit to distil from (weak, not done, or not the weights its record evaluated)."""


class RunStopped(RunFailed):
    """Stopped on request (``stop_after`` or SIGTERM) after saving ``last.pt``: rerun to resume."""


class RunBusy(RuntimeError):
    """Another process holds the run directory's lock."""
