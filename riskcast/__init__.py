"""riskcast: real-time monitoring and prediction."""

__version__ = "0.1.0"
