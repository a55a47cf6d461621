CREATE OR REPLACE FUNCTION django_pgflow.claim_gated(
    p_queues text[], p_limit integer, OUT ids bigint[], OUT started_at timestamptz
)
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- Called by claim() only, whose SET enable_* / jit / plan_cache_mode hold here.
AS $$
DECLARE
    v_all boolean := p_queues IS NULL OR cardinality(p_queues) = 0;
    -- A worker of one queue reads pgflow_job_gated_queue_idx, never the
    -- gated backlog of other queues.
    v_one text := CASE WHEN cardinality(p_queues) = 1 THEN p_queues[1] END;
    v_capped text[];            -- queues served here that have a concurrency cap
    v_rated text[];             -- ... and a rate limit
    v_closed text[] := '{}';    -- queues with nothing more for this claim
    v_exhausted text[] := '{}'; -- resources with no free slot for this claim
    v_keys text[] := '{}';      -- lock keys taken or found busy here
    v_seen bigint[] := '{}';    -- jobs locked here (SKIP LOCKED does not skip our own)
    v_taken bigint[] := '{}';
    v_taken_queue text[] := '{}';
    v_taken_res jsonb[] := '{}';
    -- Free slots locked here (their ctid: stable while we hold the lock),
    -- by pool ('r:<resource>', 'q:<queue>').
    v_pool_slot tid[] := '{}';
    v_pool_key text[] := '{}';
    -- pool (the above, and 'rate:<queue>') -> units still to give here
    v_avail jsonb := '{}';
    b_id bigint[];
    b_queue text[];
    b_res jsonb[];
    b_key text[];
    v_blocked bigint[];
    v_pick bigint[];
    v_shut text[];
    v_want integer;
    v_left integer;
    v_drop bigint[];
    v_now timestamptz;
    q text;
BEGIN
    ids := v_taken;
    -- The common case: nothing gated is ready in these queues (one probe of
    -- an index that holds only gated jobs). The limited queues are listed in
    -- the same statement, only when something is.
    SELECT CASE WHEN r.ready THEN ARRAY(
               SELECT l.queue::text FROM pgflow_queue_limit l
               WHERE (v_all OR l.queue = ANY (p_queues)) AND l.concurrency IS NOT NULL) END,
           CASE WHEN r.ready THEN ARRAY(
               SELECT l.queue::text FROM pgflow_queue_limit l
               WHERE (v_all OR l.queue = ANY (p_queues)) AND l.rate_count IS NOT NULL) END
    INTO v_capped, v_rated
    FROM (SELECT CASE WHEN v_one IS NULL THEN EXISTS (
                     SELECT 1 FROM pgflow_job j
                     WHERE j.status = 'queued' AND j.gated AND j.run_at <= now()
                       AND (v_all OR j.queue = ANY (p_queues)))
                 ELSE EXISTS (
                     SELECT 1 FROM pgflow_job j
                     WHERE j.status = 'queued' AND j.gated AND j.queue = v_one AND j.run_at <= now())
                 END AS ready) r;
    IF v_capped IS NULL THEN
        RETURN;
    END IF;

    -- No lock is shared by all claims: every gate is a row locked FOR UPDATE
    -- SKIP LOCKED (the job, a free slot per unit of capacity it needs, a rate
    -- shard), so claims of one GPU or one queue from many workers run and
    -- commit side by side. Jobs come in batches in claim order, set-based;
    -- a batch whose jobs cannot all start is followed by another, up to 1000
    -- jobs looked at per claim.
    LOOP
        v_want := p_limit - cardinality(v_taken);
        EXIT WHEN v_want <= 0 OR cardinality(v_seen) >= 1000;
        IF v_one IS NOT NULL THEN
            b_id := ARRAY(
                SELECT j.id FROM pgflow_job j
                WHERE j.status = 'queued' AND j.gated AND j.queue = v_one AND j.run_at <= now()
                  AND NOT j.queue = ANY (v_closed)
                  AND (j.resources IS NULL OR NOT j.resources ?| v_exhausted)
                  AND (j.lock_key IS NULL OR NOT j.lock_key = ANY (v_keys))
                  AND NOT j.id = ANY (v_seen)
                ORDER BY j.priority DESC, j.run_at, j.id
                LIMIT v_want
                FOR UPDATE SKIP LOCKED);
        ELSE
            b_id := ARRAY(
                SELECT j.id FROM pgflow_job j
                WHERE j.status = 'queued' AND j.gated AND j.run_at <= now()
                  AND (v_all OR j.queue = ANY (p_queues))
                  AND NOT j.queue = ANY (v_closed)
                  AND (j.resources IS NULL OR NOT j.resources ?| v_exhausted)
                  AND (j.lock_key IS NULL OR NOT j.lock_key = ANY (v_keys))
                  AND NOT j.id = ANY (v_seen)
                ORDER BY j.priority DESC, j.run_at, j.id
                LIMIT v_want
                FOR UPDATE SKIP LOCKED);
        END IF;
        EXIT WHEN cardinality(b_id) = 0;
        SELECT array_agg(j.queue::text ORDER BY b.o), array_agg(j.resources ORDER BY b.o),
               array_agg(j.lock_key::text ORDER BY b.o)
        INTO b_queue, b_res, b_key
        FROM unnest(b_id) WITH ORDINALITY AS b(id, o) JOIN pgflow_job j ON j.id = b.id;
        v_seen := v_seen || b_id;

        -- Jobs of one key run one at a time, in enqueue order. One statement,
        -- one snapshot: an earlier job of the key is seen either queued or
        -- started (a claim in flight still shows it queued), never neither.
        v_blocked := '{}';
        IF cardinality(array_remove(b_key, NULL)) > 0 THEN
            v_blocked := ARRAY(
                SELECT b.id FROM unnest(b_id, b_key) AS b(id, lock_key)
                WHERE b.lock_key IS NOT NULL AND EXISTS (
                    SELECT 1 FROM pgflow_job o
                    WHERE o.lock_key = b.lock_key AND o.id <> b.id
                      AND (o.status = 'started' OR (o.status = 'queued' AND o.id < b.id))));
        END IF;

        -- Free slots, as many as the batch needs per pool (minus those
        -- locked in an earlier round and not given). A slot found free in
        -- this statement's snapshot but taken since is re-checked on its
        -- latest version by FOR UPDATE and left out.
        IF cardinality(v_capped) > 0 OR cardinality(array_remove(b_res, NULL)) > 0 THEN
            WITH wanted AS (
                SELECT 'resource'::text AS kind, x.key AS name, 'r:' || x.key AS pool,
                       sum(x.value::integer) AS units
                FROM unnest(b_id, b_res) AS b(id, res) CROSS JOIN LATERAL jsonb_each_text(b.res) x
                WHERE b.res IS NOT NULL AND NOT b.id = ANY (v_blocked)
                GROUP BY x.key
                UNION ALL
                SELECT 'queue', b.queue, 'q:' || b.queue, count(*)
                FROM unnest(b_id, b_queue) AS b(id, queue)
                WHERE b.queue = ANY (v_capped) AND NOT b.id = ANY (v_blocked)
                GROUP BY b.queue
            ), owed AS (
                -- Slots retired by a lowered capacity but still held: as many
                -- free ones are not given out, so what runs never exceeds the
                -- new capacity (usually none: a probe of an empty index).
                SELECT w.*, (SELECT count(*) FROM pgflow_slot r
                             WHERE r.kind = w.kind AND r.name = w.name AND r.retired
                               AND r.job_id IS NOT NULL)::integer AS retired
                FROM wanted w
            ), got AS (
                SELECT w.pool, f.ctid AS id
                FROM owed w CROSS JOIN LATERAL (
                    SELECT s.ctid FROM pgflow_slot s
                    WHERE s.kind = w.kind AND s.name = w.name AND s.job_id IS NULL AND NOT s.retired
                      AND NOT s.ctid = ANY (v_pool_slot)
                    ORDER BY s.n
                    LIMIT greatest(0, w.units + w.retired - coalesce((v_avail->>w.pool)::integer, 0))
                    FOR UPDATE SKIP LOCKED) f
            )
            SELECT v_pool_slot || coalesce((SELECT array_agg(g.id ORDER BY g.pool, g.id) FROM got g), '{}'),
                   v_pool_key || coalesce((SELECT array_agg(g.pool ORDER BY g.pool, g.id) FROM got g), '{}'),
                   v_avail || coalesce((
                       SELECT jsonb_object_agg(w.pool, greatest(0, coalesce((v_avail->>w.pool)::integer, 0)
                                               + (SELECT count(*) FROM got g WHERE g.pool = w.pool)
                                               - w.retired))
                       FROM owed w), '{}')
            INTO v_pool_slot, v_pool_key, v_avail;
        END IF;

        -- Give them out in claim order, set-based: a job starts if, in each
        -- pool it draws on, what it and the jobs before it in the batch need
        -- fits in what is left. A job turned down still counts in the pools
        -- it did fit, so this may take fewer than a job-by-job pass would,
        -- never more. A pool that turned a job down is shut for this claim.
        WITH b AS (
            SELECT b.id, b.queue, b.res, b.o
            FROM unnest(b_id, b_queue, b_res) WITH ORDINALITY AS b(id, queue, res, o)
            WHERE NOT b.id = ANY (v_blocked)
        ), needs AS (
            SELECT b.id, b.o, 'r:' || x.key AS pool, x.value::integer AS amount
            FROM b CROSS JOIN LATERAL jsonb_each_text(b.res) x WHERE b.res IS NOT NULL
            UNION ALL
            SELECT b.id, b.o, 'q:' || b.queue, 1 FROM b WHERE b.queue = ANY (v_capped)
            UNION ALL
            SELECT b.id, b.o, 'rate:' || b.queue, 1 FROM b WHERE b.queue = ANY (v_rated)
        ), avail AS (
            -- A rated queue first met here is open unless all its shards
            -- are spent (read without locks): its jobs are taken as if it
            -- were, and their starts reserved, or the jobs dropped, at the end.
            SELECT p.pool, coalesce((v_avail->>p.pool)::integer,
                CASE WHEN p.pool LIKE 'rate:%' AND EXISTS (
                         SELECT 1 FROM pgflow_queue_rate_shard h
                         WHERE h.queue = substr(p.pool, 6)
                           AND (h.full_until IS NULL OR h.full_until <= clock_timestamp()))
                     THEN p_limit ELSE 0 END) AS avail
            FROM (SELECT DISTINCT n.pool FROM needs n) p
        ), running AS (
            SELECT n.id, n.pool, n.amount,
                   sum(n.amount) OVER (PARTITION BY n.pool ORDER BY n.o) AS upto, a.avail
            FROM needs n JOIN avail a ON a.pool = n.pool
        ), turned_down AS (
            SELECT DISTINCT r.id FROM running r WHERE r.upto > r.avail
        ), picked AS (
            SELECT b.id, b.queue, b.res, b.o FROM b WHERE b.id NOT IN (SELECT t.id FROM turned_down t)
        )
        SELECT coalesce((SELECT array_agg(k.id ORDER BY k.o) FROM picked k), '{}'),
               v_taken_queue || coalesce((SELECT array_agg(k.queue ORDER BY k.o) FROM picked k), '{}'),
               v_taken_res || coalesce((SELECT array_agg(k.res ORDER BY k.o) FROM picked k), '{}'),
               v_avail || coalesce((SELECT jsonb_object_agg(a.pool, a.avail - coalesce((
                   SELECT sum(r.amount) FROM running r
                   WHERE r.pool = a.pool AND r.id IN (SELECT k.id FROM picked k)), 0)) FROM avail a), '{}'),
               ARRAY(SELECT DISTINCT r.pool FROM running r WHERE r.upto > r.avail)
        INTO v_pick, v_taken_queue, v_taken_res, v_avail, v_shut;
        v_taken := v_taken || v_pick;

        IF cardinality(v_shut) > 0 THEN
            v_exhausted := v_exhausted || ARRAY(SELECT substr(x, 3) FROM unnest(v_shut) x WHERE x LIKE 'r:%');
            v_closed := v_closed || ARRAY(SELECT substring(x FROM '^(?:q|rate):(.*)$') FROM unnest(v_shut) x
                                          WHERE x NOT LIKE 'r:%');
        END IF;
        -- A short batch was all there was; a full one may hide more behind it.
        EXIT WHEN cardinality(b_id) < v_want OR cardinality(v_taken) >= p_limit;
        IF cardinality(array_remove(b_key, NULL)) > 0 THEN
            v_keys := v_keys || ARRAY(
                SELECT b.lock_key FROM unnest(b_id, b_key) AS b(id, lock_key)
                WHERE b.lock_key IS NOT NULL AND (b.id = ANY (v_blocked) OR b.id = ANY (v_pick)));
        END IF;
    END LOOP;
    -- Jobs and slots locked here but not taken stay locked until this claim
    -- commits: other claims skip them, which only delays them to the next
    -- wake-up or poll.

    -- The start time to record, read after every check above: later than
    -- any release those checks saw committed, so the recorded intervals of
    -- one slot never overlap. Rate windows are counted at this same time.
    v_now := clock_timestamp();
    v_drop := '{}';
    FOREACH q IN ARRAY ARRAY(SELECT DISTINCT x FROM unnest(v_taken_queue) x WHERE x = ANY (v_rated)) LOOP
        v_want := (SELECT count(*) FROM unnest(v_taken_queue) x WHERE x = q);
        v_left := v_want - django_pgflow.reserve_rate(q, v_want, v_now);
        IF v_left > 0 THEN
            -- The window filled since the look above: the last jobs of this
            -- queue wait for a later claim.
            v_drop := v_drop || ARRAY(
                SELECT t.id FROM unnest(v_taken, v_taken_queue) WITH ORDINALITY AS t(id, queue, i)
                WHERE t.queue = q ORDER BY t.i DESC LIMIT v_left);
        END IF;
    END LOOP;

    -- Each pool's slots go to its taken jobs, a slot per unit, in order.
    IF cardinality(v_pool_slot) > 0 THEN
        WITH taken AS (
            SELECT t.id, t.queue, t.res, t.o
            FROM unnest(v_taken, v_taken_queue, v_taken_res) WITH ORDINALITY AS t(id, queue, res, o)
            WHERE NOT t.id = ANY (v_drop)
        ), units AS (
            SELECT t.id, t.o, 'r:' || x.key AS pool, g
            FROM taken t CROSS JOIN LATERAL jsonb_each_text(t.res) x
            CROSS JOIN LATERAL generate_series(1, x.value::integer) g
            WHERE t.res IS NOT NULL
            UNION ALL
            SELECT t.id, t.o, 'q:' || t.queue, 1 FROM taken t WHERE t.queue = ANY (v_capped)
        ), need AS (
            SELECT u.id, u.pool, row_number() OVER (PARTITION BY u.pool ORDER BY u.o, u.g) AS rn
            FROM units u
        ), pool AS (
            SELECT p.slot, p.pool, row_number() OVER (PARTITION BY p.pool ORDER BY p.i) AS rn
            FROM unnest(v_pool_slot, v_pool_key) WITH ORDINALITY AS p(slot, pool, i)
        )
        UPDATE pgflow_slot s SET job_id = need.id
        FROM need JOIN pool ON pool.pool = need.pool AND pool.rn = need.rn
        WHERE s.ctid = pool.slot;
    END IF;
    IF cardinality(v_drop) > 0 THEN
        v_taken := ARRAY(SELECT t.id FROM unnest(v_taken) WITH ORDINALITY AS t(id, i)
                         WHERE NOT t.id = ANY (v_drop) ORDER BY t.i);
    END IF;
    ids := v_taken;
    started_at := v_now;
END;
$$;

COMMENT ON FUNCTION django_pgflow.claim_gated(text[], integer) IS
'claim()''s gated path: picks up to p_limit ready gated jobs (that need resources, hold a lock key, or belong to a queue with limits), only while what they need is free: a free slot per unit of each resource and of the queue''s concurrency cap, no started or earlier queued job with the same lock key, starts left in the queue''s rate window. Every gate is a row locked FOR UPDATE SKIP LOCKED, so concurrent claims do not wait for each other. Returns the ids and the start time to record for them.';
