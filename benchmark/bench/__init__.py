"""Speed benchmarks behind ``dfmsd-bench bench``: distillation step vs its floor (live teacher and cache),
loss forward+backward micro-benchmarks, scheduler utilisation. Figures are medians of interleaved rounds
after warm-up, with their spread; ratios are taken round by round so machine load cancels out."""
