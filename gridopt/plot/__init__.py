"""Figures (matplotlib, imported lazily when a figure is made; Agg canvas, no pyplot).

Job figures: :func:`forecast_figure`, :func:`dispatch_figure`, :func:`voltage_figure`,
:func:`losses_figure`; :func:`save_png` writes one without a timestamp in the file.
"""

from gridopt.plot.job import (
    dispatch_figure,
    forecast_figure,
    losses_figure,
    save_png,
    voltage_figure,
)

__all__ = ["dispatch_figure", "forecast_figure", "losses_figure", "save_png", "voltage_figure"]
