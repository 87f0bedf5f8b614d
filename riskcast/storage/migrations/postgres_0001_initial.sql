-- Sites, series (one per site and variable) and readings keyed by (series, time).
-- Applied inside the riskcast schema (search_path), in one transaction, under an advisory lock.
-- Text keys use the "C" collation so ordering matches SQLite and Python (byte order).
CREATE TABLE sites (
    id text COLLATE "C" PRIMARY KEY,
    name text NOT NULL,
    pack text NOT NULL,
    lat double precision,
    lon double precision,
    tags jsonb NOT NULL DEFAULT '{}',
    created_us bigint NOT NULL
);
CREATE TABLE series (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site text COLLATE "C" NOT NULL,
    variable text COLLATE "C" NOT NULL,
    UNIQUE (site, variable)
);
CREATE INDEX series_by_variable ON series (variable);
-- time: microseconds since the epoch (UTC); quality 0 good, 1 suspect, 2 bad;
-- priority: the priority of the source (riskcast.core.sources), a lower one never replaces.
CREATE TABLE readings (
    series integer NOT NULL,
    time bigint NOT NULL,
    value double precision NOT NULL,
    quality smallint NOT NULL,
    source text,
    priority smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (series, time)
);
