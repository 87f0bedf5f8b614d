-- Sites, series (one per site and variable) and readings keyed by (series, time).
CREATE TABLE sites (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    pack TEXT NOT NULL,
    lat REAL,
    lon REAL,
    tags TEXT NOT NULL DEFAULT '{}',
    created_us INTEGER NOT NULL
);
CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    variable TEXT NOT NULL,
    UNIQUE (site, variable)
);
CREATE INDEX series_by_variable ON series (variable);
CREATE TABLE readings (
    series INTEGER NOT NULL,
    time INTEGER NOT NULL,
    value REAL NOT NULL,
    quality INTEGER NOT NULL,
    source TEXT,
    PRIMARY KEY (series, time)
) WITHOUT ROWID;
