"""Feedback: what people say about alerts, predictions and recommendations, and the
statistics that turn it into effectiveness (precision with its Wilson bound, trends)."""

from riskcast.feedback.effectiveness import Counts, Effectiveness, Week, effectiveness, week_start
from riskcast.feedback.stats import (
    MannKendall,
    beta_posterior_mean,
    beta_posterior_quantile,
    mann_kendall,
    sens_slope,
    wilson_lower_bound,
)

__all__ = [
    "Counts",
    "Effectiveness",
    "MannKendall",
    "Week",
    "beta_posterior_mean",
    "beta_posterior_quantile",
    "effectiveness",
    "mann_kendall",
    "sens_slope",
    "week_start",
    "wilson_lower_bound",
]
