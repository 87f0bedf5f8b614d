-- readings becomes a table partitioned by RANGE (time), one partition per 7 days
-- (604800000000 us, weeks aligned to the epoch; riskcast.storage.postgres.PARTITION_SPAN_US
-- must stay equal), partitions named readings_w<N> (readings_wm<N> before 1970) for
-- [N * span, (N + 1) * span), plus readings_default, which writers keep empty by creating the
-- partitions of a batch before inserting it. Converts an existing table in place: the old
-- table is renamed, the partitions its rows need are created, the rows are copied, the old
-- table is dropped; all in the migration's transaction, so a failure leaves the old layout.
ALTER TABLE readings RENAME TO readings_unpartitioned;
ALTER INDEX readings_pkey RENAME TO readings_unpartitioned_pkey;
CREATE TABLE readings (
    series integer NOT NULL,
    time bigint NOT NULL,
    value double precision NOT NULL,
    quality smallint NOT NULL,
    source text,
    priority smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (series, time)
) PARTITION BY RANGE (time);
CREATE TABLE readings_default PARTITION OF readings DEFAULT;
DO $$
DECLARE
    span constant numeric := 604800000000;
    n numeric;
    lo text;
    hi text;
BEGIN
    FOR n IN SELECT DISTINCT floor(time::numeric / span) FROM readings_unpartitioned LOOP
        lo := CASE WHEN n * span < -9223372036854775808 THEN 'MINVALUE'
                   ELSE (n * span)::text END;
        hi := CASE WHEN (n + 1) * span > 9223372036854775807 THEN 'MAXVALUE'
                   ELSE ((n + 1) * span)::text END;
        EXECUTE format('CREATE TABLE %I PARTITION OF readings FOR VALUES FROM (%s) TO (%s)',
                       'readings_w' || replace(n::text, '-', 'm'), lo, hi);
    END LOOP;
END
$$;
INSERT INTO readings (series, time, value, quality, source, priority)
    SELECT series, time, value, quality, source, priority FROM readings_unpartitioned;
DROP TABLE readings_unpartitioned;
