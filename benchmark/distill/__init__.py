"""Distillation glue between detectors and criteria: the method registry (:mod:`.methods`), FPN level matching
by stride (:mod:`.levels`) and the multi-level loss over matched levels (:mod:`.loss`)."""
