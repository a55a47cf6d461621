-- A rate shard's window: counts[i] holds the starts of the bucket b with
-- b % 101 = i - 1, for the 101 buckets (of a hundredth of the period each)
-- up to last_bucket. Seen from a later bucket, the positions of the buckets
-- after last_bucket hold starts that left the window: reserve_rate zeroes
-- them before it counts, and rate_used leaves them out.

-- What the window holds, read without locks, for pgflow_contention (the claim
-- reserves under the shards' row locks).
CREATE OR REPLACE FUNCTION django_pgflow.rate_used(p_queue text, p_at timestamptz)
RETURNS integer
LANGUAGE sql STABLE
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
