CREATE OR REPLACE FUNCTION django_pgflow.claim_gated(
    p_queues text[], p_limit integer, OUT ids bigint[], OUT started_at timestamptz
)
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- Called by claim() only, whose SET enable_* / jit / plan_cache_mode hold here.
AS $$
DECLARE
    v_all boolean := p_queues IS NULL OR cardinality(p_queues) = 0;
    v_lim_req text[];     -- the limited queues this claim serves
    v_free jsonb;         -- resource -> capacity left
    v_exhausted text[];   -- resources with nothing left
    v_budget jsonb := '{}';  -- limited queue -> starts it may still make now
    v_open text[];        -- limited queues with budget left
    v_keys text[];        -- lock keys held by started jobs, or taken or blocked here
    v_taken bigint[] := '{}';
    v_now timestamptz;
    v_limit record;
    v_left integer;
    v_scanned integer := 0;
    r record;
BEGIN
    ids := v_taken;
    -- The common case, one probe of an index that holds only gated jobs:
    -- nothing gated is ready in these queues.
    IF NOT EXISTS (
        SELECT 1 FROM pgflow_job j
        WHERE j.status = 'queued' AND j.gated AND j.run_at <= now()
          AND (v_all OR j.queue = ANY (p_queues))
    ) THEN
        RETURN;
    END IF;
    v_lim_req := ARRAY(
        SELECT l.queue::text FROM pgflow_queue_limit l WHERE v_all OR l.queue = ANY (p_queues));

    -- Gated claims are serialised (one transaction-scoped advisory lock, held
    -- until the claim commits) so that two workers never both see the last
    -- free GPU. Plain jobs never take this path.
    PERFORM pg_advisory_xact_lock(7236385167162738);

    -- What is in use is what started jobs declare: nothing to leak or repair.
    SELECT coalesce(jsonb_object_agg(res.name, res.capacity - coalesce(u.used, 0)), '{}')
    INTO v_free
    FROM pgflow_resource res
    LEFT JOIN (
        SELECT e.key, sum(e.value::integer) AS used
        FROM pgflow_job j CROSS JOIN LATERAL jsonb_each_text(j.resources) e
        WHERE j.status = 'started' AND j.resources IS NOT NULL
        GROUP BY e.key
    ) u ON u.key = res.name;
    v_exhausted := ARRAY(SELECT e.key FROM jsonb_each_text(v_free) e WHERE e.value::integer <= 0);
    v_keys := ARRAY(
        SELECT j.lock_key FROM pgflow_job j WHERE j.status = 'started' AND j.lock_key IS NOT NULL);

    v_now := clock_timestamp();
    FOR v_limit IN SELECT l.* FROM pgflow_queue_limit l WHERE l.queue = ANY (v_lim_req) LOOP
        v_left := p_limit;
        IF v_limit.concurrency IS NOT NULL THEN
            v_left := least(v_left, v_limit.concurrency - (
                SELECT count(*) FROM pgflow_job j
                WHERE j.status = 'started' AND j.queue = v_limit.queue)::integer);
        END IF;
        IF v_limit.rate_count IS NOT NULL THEN
            -- A sliding window of rate_period, in buckets of a hundredth of
            -- it: the bucket the window starts in counts whole, so no start
            -- inside the window is ever missed (at worst 1% of the rate is
            -- given up).
            DELETE FROM pgflow_queue_rate b
            WHERE b.queue = v_limit.queue
              AND b.bucket < floor((extract(epoch FROM v_now) - v_limit.rate_period)
                                   / (v_limit.rate_period / 100));
            v_left := least(v_left, v_limit.rate_count - coalesce((
                SELECT sum(b.starts) FROM pgflow_queue_rate b WHERE b.queue = v_limit.queue), 0)::integer);
        END IF;
        v_budget := v_budget || jsonb_build_object(v_limit.queue, greatest(v_left, 0));
    END LOOP;
    v_open := ARRAY(SELECT e.key FROM jsonb_each_text(v_budget) e WHERE e.value::integer > 0);
    -- The start time to record: read after the statements above, so later
    -- than any release they saw committed. Recorded intervals of one
    -- resource thus never overlap.
    v_now := clock_timestamp();

    -- Gated jobs in claim order, fetched as the loop goes (no sort, no
    -- prefetch): usually the first few are taken and the scan stops. Those
    -- whose needs are already known to be unmet are filtered in the scan; at
    -- most 1000 others are looked at per claim.
    FOR r IN
        SELECT j.id, j.queue::text AS queue, j.resources, j.lock_key::text AS lock_key
        FROM pgflow_job j
        WHERE j.status = 'queued' AND j.gated AND j.run_at <= now() AND (v_all OR j.queue = ANY (p_queues))
          AND (NOT j.queue = ANY (v_lim_req) OR j.queue = ANY (v_open))
          AND (j.resources IS NULL OR NOT j.resources ?| v_exhausted)
          AND (j.lock_key IS NULL OR NOT j.lock_key = ANY (v_keys))
        ORDER BY j.priority DESC, j.run_at, j.id
    LOOP
        EXIT WHEN cardinality(v_taken) >= p_limit;
        v_scanned := v_scanned + 1;
        EXIT WHEN v_scanned > 1000;
        IF r.queue = ANY (v_lim_req) AND (v_budget->>r.queue)::integer <= 0 THEN
            CONTINUE;
        END IF;
        IF r.lock_key IS NOT NULL THEN
            IF r.lock_key = ANY (v_keys) THEN
                CONTINUE;
            END IF;
            -- Jobs of one key run in enqueue order: an earlier one still
            -- queued (delayed, or waiting to retry) goes first.
            IF EXISTS (SELECT 1 FROM pgflow_job o
                       WHERE o.lock_key = r.lock_key AND o.status = 'queued' AND o.id < r.id) THEN
                v_keys := v_keys || r.lock_key;
                CONTINUE;
            END IF;
        END IF;
        IF r.resources IS NOT NULL AND EXISTS (
            SELECT 1 FROM jsonb_each_text(r.resources) e
            WHERE coalesce((v_free->>e.key)::integer, 0) < e.value::integer
        ) THEN
            CONTINUE;
        END IF;
        PERFORM 1 FROM pgflow_job j WHERE j.id = r.id AND j.status = 'queued' FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            CONTINUE;
        END IF;

        v_taken := v_taken || r.id;
        IF r.resources IS NOT NULL THEN
            SELECT v_free || jsonb_object_agg(e.key, (v_free->>e.key)::integer - e.value::integer)
            INTO v_free FROM jsonb_each_text(r.resources) e;
        END IF;
        IF r.lock_key IS NOT NULL THEN
            v_keys := v_keys || r.lock_key;
        END IF;
        IF r.queue = ANY (v_lim_req) THEN
            v_budget := v_budget || jsonb_build_object(r.queue, (v_budget->>r.queue)::integer - 1);
        END IF;
    END LOOP;

    INSERT INTO pgflow_queue_rate AS b (queue, bucket, starts)
    SELECT j.queue, floor(extract(epoch FROM v_now) / (l.rate_period / 100))::bigint, count(*)
    FROM pgflow_job j JOIN pgflow_queue_limit l ON l.queue = j.queue AND l.rate_count IS NOT NULL
    WHERE j.id = ANY (v_taken)
    GROUP BY j.queue, l.rate_period
    ON CONFLICT (queue, bucket) DO UPDATE SET starts = b.starts + EXCLUDED.starts;
    ids := v_taken;
    started_at := v_now;
END;
$$;

COMMENT ON FUNCTION django_pgflow.claim_gated(text[], integer) IS
'claim()''s gated path: picks up to p_limit ready gated jobs (that need resources, hold a lock key, or belong to a queue with limits), only while what they need is free: resource capacity left, no started or earlier queued job with the same lock key, queue concurrency and rate budget left. Serialised by a transaction-scoped advisory lock. Returns the ids and the start time to record for them.';
