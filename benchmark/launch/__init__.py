"""Launching runs: sweep files (:mod:`.spec`) planned into DAGs of runs (:mod:`.plan`), executed by a scheduler
(:mod:`.scheduler`) through executors (:mod:`.executors`: a local pool, Slurm via submitit) that start one
worker (:mod:`.worker`) per run; teacher-cache nodes (:mod:`.cache_node`); the quickstart job."""
