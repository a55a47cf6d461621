CREATE OR REPLACE FUNCTION django_pgflow.rate_used(p_queue text, p_at timestamptz)
RETURNS integer
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
    SELECT coalesce(sum(CASE
        WHEN b.cur - h.last_bucket >= 101 THEN 0
        WHEN b.cur <= h.last_bucket THEN (SELECT sum(c) FROM unnest(h.counts) c)
        ELSE (SELECT sum(h.counts[i]) FROM generate_series(1, 101) AS i
              WHERE (((i - 1 - (h.last_bucket + 1)) % 101) + 101) % 101 >= b.cur - h.last_bucket)
    END), 0)::integer
    FROM pgflow_queue_limit l
    CROSS JOIN LATERAL (SELECT floor(extract(epoch FROM p_at) / (l.rate_period / 100))::bigint AS cur) b
    JOIN pgflow_queue_rate_shard h ON h.queue = l.queue
    WHERE l.queue = p_queue AND l.rate_count IS NOT NULL
$$;

COMMENT ON FUNCTION django_pgflow.rate_used(text, timestamptz) IS
'Starts of a rate-limited queue in the window ending at p_at, over all its shards (a snapshot: the claim reserves under row locks).';

REVOKE EXECUTE ON FUNCTION django_pgflow.rate_used(text,timestamp with time zone) FROM PUBLIC;
