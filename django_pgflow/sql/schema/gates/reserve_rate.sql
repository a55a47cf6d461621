CREATE OR REPLACE FUNCTION django_pgflow.reserve_rate(p_queue text, p_want integer, p_at timestamptz)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_period float8 := (SELECT l.rate_period FROM pgflow_queue_limit l
                        WHERE l.queue = p_queue AND l.rate_count IS NOT NULL);
    v_cur bigint := floor(extract(epoch FROM p_at) / (v_period / 100))::bigint;
    v_pos integer := (v_cur % 101)::integer + 1;
    v_counts integer[];
    v_take integer;
    v_got integer := 0;
    v_tried bigint[] := '{}';
    v_left integer;
    v_full timestamptz;
    s record;
BEGIN
    IF v_cur IS NULL OR p_want <= 0 THEN
        RETURN 0;
    END IF;
    -- Each shard's row lock is held until the claim commits, so no other
    -- claim can spend the same budget; a shard another claim holds is
    -- skipped, not waited for. FOR UPDATE hands back the row's latest
    -- version, so the counts read here include every committed start.
    -- One shard at a time (a FOR loop over the query would fetch, and
    -- lock, ten at once), until enough is reserved.
    LOOP
        SELECT h.id, h.budget, h.last_bucket, h.counts INTO s
        FROM pgflow_queue_rate_shard h
        WHERE h.queue = p_queue AND NOT h.id = ANY (v_tried)
          AND (h.full_until IS NULL OR h.full_until <= p_at)
        ORDER BY h.shard LIMIT 1 FOR UPDATE SKIP LOCKED;
        EXIT WHEN NOT FOUND;
        v_tried := v_tried || s.id;
        v_counts := s.counts;
        -- Zero the positions of the buckets after the last one written,
        -- usually one or none (all of them after a quiet period).
        FOR k IN 1 .. least(v_cur - s.last_bucket, 101)::integer LOOP
            v_counts[((s.last_bucket + k) % 101)::integer + 1] := 0;
        END LOOP;
        v_left := s.budget - (SELECT coalesce(sum(c), 0) FROM unnest(v_counts) c)::integer;
        v_take := greatest(0, least(p_want - v_got, v_left));
        v_counts[v_pos] := v_counts[v_pos] + v_take;
        v_full := NULL;
        IF v_left - v_take <= 0 THEN
            -- Spent: it opens again when its oldest counted bucket leaves
            -- the window. Until then claims pass it by (and the claim's
            -- look at the queue sees it shut) without locking it.
            v_full := (SELECT to_timestamp((v_cur - 100 + k + 101) * (v_period / 100))
                       FROM generate_series(0, 100) AS k
                       WHERE v_counts[((v_cur - 100 + k) % 101)::integer + 1] > 0
                       ORDER BY k LIMIT 1);
        END IF;
        UPDATE pgflow_queue_rate_shard h
        SET counts = v_counts, last_bucket = greatest(s.last_bucket, v_cur), full_until = v_full
        WHERE h.id = s.id;
        v_got := v_got + v_take;
        EXIT WHEN v_got >= p_want;
    END LOOP;
    RETURN v_got;
END;
$$;

COMMENT ON FUNCTION django_pgflow.reserve_rate(text, integer, timestamptz) IS
'Claims up to p_want starts at p_at from a rate-limited queue''s shards (each locked FOR UPDATE SKIP LOCKED until the caller commits) and returns how many it got.';

REVOKE EXECUTE ON FUNCTION django_pgflow.reserve_rate(text,integer,timestamp with time zone) FROM PUBLIC;
