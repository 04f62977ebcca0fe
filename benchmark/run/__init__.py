"""One run, end to end: resolution and validation of its config, training, evaluation, the run record and its
W&B mirror, and the pieces of a training step (optimiser, stages, batch stream, RNG, DDP)."""
