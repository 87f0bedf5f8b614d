"""Backup and restore of everything a riskcast deployment keeps.

``create_backup`` writes one archive of the data dir (every SQLite database through the
online backup API, every other file as is) plus a ``pg_dump`` with PostgreSQL storage, with a
manifest of sizes and SHA-256 checksums; ``verify_backup`` checks one; ``restore_backup`` puts
one back atomically. docs/operations.md has the whole story.
"""

from riskcast.backup.archive import FileEntry, Manifest, create_backup, read_manifest, verify_backup
from riskcast.backup.lock import DataDirLock, in_use
from riskcast.backup.restore import Restored, restore_backup
from riskcast.backup.schedule import BackupJob, backup_dir, prune

__all__ = ["BackupJob", "DataDirLock", "FileEntry", "Manifest", "Restored", "backup_dir",
           "create_backup", "in_use", "prune", "read_manifest", "restore_backup",
           "verify_backup"]
