"""The figures of a report, one module per kind; :mod:`reports.plots` draws them all. Every figure uses the
visual language of :mod:`reports.style` and is saved as PNG (300 dpi) and vector PDF by
:func:`reports.figures.common.save_figure`."""
