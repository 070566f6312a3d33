"""Views of an incident: figures (plotly), display downsampling, and the apps' state.

The figures need only plotly, so notebooks use them as they are; the ``param`` state
classes (:mod:`workbench.views.state`) come with the ``dashboards`` extra.

>>> from workbench.views import timeline_figure
>>> timeline_figure(investigation, logs=case.logs, spans=case.spans, truth=case.truth)
"""

from workbench.views.charts import indicator_figure, timeline_figure, waterfall_figure
from workbench.views.downsample import DEFAULT_DISPLAY_POINTS, for_display

__all__ = [
    "DEFAULT_DISPLAY_POINTS",
    "for_display",
    "indicator_figure",
    "timeline_figure",
    "waterfall_figure",
]
