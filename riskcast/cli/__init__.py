"""The ``riskcast`` command line."""
