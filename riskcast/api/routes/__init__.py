"""HTTP routes under ``/api/v1`` and ``/health``."""
