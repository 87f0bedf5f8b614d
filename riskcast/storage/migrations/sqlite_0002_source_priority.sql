-- The priority of a reading's source: a lower-priority source never replaces a higher one.
ALTER TABLE readings ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
