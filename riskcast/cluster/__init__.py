"""Coordination between the processes of one riskcast installation.

``lease.py`` holds the contract (who runs a job that must run in one process at a time)
and the always-held lease of a single process; ``postgres.py`` a lease on a PostgreSQL
advisory lock, for several processes on PostgreSQL storage.
"""

from riskcast.cluster.lease import Lease, OnChange, SoleLease

__all__ = ["Lease", "OnChange", "SoleLease"]
