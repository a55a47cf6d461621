-- claim_gated() sets aside (pgflow_job.impossible) a job that asks for more
-- than a capacity, and no longer lets one keep later jobs of its lock key
-- waiting.
-- Slots are read through pgflow_slot_state (10_slot_state.sql): its held
-- column says whether the attempt a slot was given to still runs.
CREATE OR REPLACE FUNCTION django_pgflow.claim_gated(
    p_queues text[], p_limit integer, OUT ids bigint[], OUT started_at timestamptz
)
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- Called by claim() only, whose SET enable_* / jit / plan_cache_mode hold here.
-- The row estimates of unnest() and jsonb_each_text() are a hundred times
-- the batch: without these, the slot UPDATE below hashes the whole slot
-- table rather than look up the few slots it gives out by key, and every
-- call sizes hash tables for thousands of rows.
SET enable_hashjoin = off
SET enable_mergejoin = off
SET enable_hashagg = off
SET enable_memoize = off
AS $$
DECLARE
    v_all boolean := p_queues IS NULL OR cardinality(p_queues) = 0;
    -- A worker of one queue reads pgflow_job_gated_queue_idx, never the
    -- gated backlog of other queues.
    v_one text := CASE WHEN cardinality(p_queues) = 1 THEN p_queues[1] END;
    v_capped text[];            -- queues served here that have a concurrency cap
    v_rated text[];             -- ... and a rate limit
    v_closed text[];            -- queues with nothing more for this claim
    v_exhausted text[] := '{}'; -- resources with no free slot for this claim
    v_keys text[] := '{}';      -- lock keys taken or found busy here
    v_seen bigint[] := '{}';    -- jobs locked here (SKIP LOCKED does not skip our own)
    v_taken bigint[] := '{}';
    -- the jobs taken of rate-limited queues, and their queues, in claim order
    v_rated_taken bigint[] := '{}';
    v_rated_queue text[] := '{}';
    b_id bigint[];
    b_queue text[];
    b_res jsonb[];
    b_key text[];
    b_attempt integer[];
    b_blocked boolean[];
    v_pick bigint[];
    v_down bigint[];
    v_shut text[];
    v_want integer;
    v_left integer;
    v_drop bigint[] := '{}';
    v_now timestamptz;
    v_rq text[];                -- rated queues taken from, and how many from each
    v_rc integer[];
    q text;
BEGIN
    ids := v_taken;
    -- The common case: nothing gated is ready in these queues (one probe of
    -- an index that holds only gated jobs). The limited queues are listed in
    -- the same statement, only when something is. A rated queue is open
    -- unless all its shards are spent (read without locks): its jobs are
    -- taken as if it were, and their starts reserved, or the jobs dropped,
    -- at the end.
    SELECT CASE WHEN r.ready THEN ARRAY(
               SELECT l.queue::text FROM pgflow_queue_limit l
               WHERE (v_all OR l.queue = ANY (p_queues)) AND l.concurrency IS NOT NULL) END,
           CASE WHEN r.ready THEN ARRAY(
               SELECT l.queue::text FROM pgflow_queue_limit l
               WHERE (v_all OR l.queue = ANY (p_queues)) AND l.rate_count IS NOT NULL) END,
           CASE WHEN r.ready THEN ARRAY(
               SELECT l.queue::text FROM pgflow_queue_limit l
               WHERE (v_all OR l.queue = ANY (p_queues)) AND l.rate_count IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM pgflow_queue_rate_shard h
                                 WHERE h.queue = l.queue
                                   AND (h.full_until IS NULL OR h.full_until <= clock_timestamp()))) END
    INTO v_capped, v_rated, v_closed
    FROM (SELECT CASE WHEN v_one IS NULL THEN EXISTS (
                     SELECT 1 FROM pgflow_job j
                     WHERE j.status = 'queued' AND j.gated AND j.impossible IS NULL AND j.run_at <= now()
                       AND (v_all OR j.queue = ANY (p_queues)))
                 ELSE EXISTS (
                     SELECT 1 FROM pgflow_job j
                     WHERE j.status = 'queued' AND j.gated AND j.impossible IS NULL AND j.queue = v_one
                       AND j.run_at <= now())
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

        -- The batch, its rows, and whether an earlier job of each one's lock
        -- key is queued or started, in one statement: one snapshot sees that
        -- earlier job either queued or started (a claim in flight still
        -- shows it queued), never neither. Of the two picks, the one not
        -- asked for stops at its one-time filter; each matches one index
        -- under a generic plan.
        WITH one_queue AS (
            SELECT j.id, j.queue, j.resources, j.lock_key, j.attempts, j.priority, j.run_at
            FROM pgflow_job j
            WHERE v_one IS NOT NULL
              AND j.status = 'queued' AND j.gated AND j.impossible IS NULL AND j.queue = v_one AND j.run_at <= now()
              AND NOT j.queue = ANY (v_closed)
              AND (j.resources IS NULL OR NOT j.resources ?| v_exhausted)
              AND (j.lock_key IS NULL OR NOT j.lock_key = ANY (v_keys))
              AND NOT j.id = ANY (v_seen)
            ORDER BY j.priority DESC, j.run_at, j.id
            LIMIT v_want
            FOR UPDATE SKIP LOCKED
        ), any_queue AS (
            SELECT j.id, j.queue, j.resources, j.lock_key, j.attempts, j.priority, j.run_at
            FROM pgflow_job j
            WHERE v_one IS NULL
              AND j.status = 'queued' AND j.gated AND j.impossible IS NULL AND j.run_at <= now()
              AND (v_all OR j.queue = ANY (p_queues))
              AND NOT j.queue = ANY (v_closed)
              AND (j.resources IS NULL OR NOT j.resources ?| v_exhausted)
              AND (j.lock_key IS NULL OR NOT j.lock_key = ANY (v_keys))
              AND NOT j.id = ANY (v_seen)
            ORDER BY j.priority DESC, j.run_at, j.id
            LIMIT v_want
            FOR UPDATE SKIP LOCKED
        )
        -- The arrays follow the sorted subquery's order (one sort, not one
        -- per array), which also computes each job's lock-key check once.
        -- v_pick is the batch's pick when no job in it needs a slot (the
        -- batch holds no job of a closed queue: v_closed only grows below,
        -- for the next batch).
        SELECT coalesce(array_agg(j.id), '{}'), array_agg(j.queue::text), array_agg(j.resources),
               array_agg(j.lock_key::text), array_agg(j.attempts), array_agg(j.blocked),
               coalesce(array_agg(j.id) FILTER (WHERE NOT j.blocked), '{}')
        INTO b_id, b_queue, b_res, b_key, b_attempt, b_blocked, v_pick
        FROM (SELECT u.*, u.lock_key IS NOT NULL AND EXISTS (
                          SELECT 1 FROM pgflow_job o
                          WHERE o.lock_key = u.lock_key AND o.id <> u.id
                            AND (o.status = 'started'
                                 OR (o.status = 'queued' AND o.id < u.id AND o.impossible IS NULL))) AS blocked
              FROM (SELECT * FROM one_queue UNION ALL SELECT * FROM any_queue) u
              ORDER BY u.priority DESC, u.run_at, u.id) j;
        EXIT WHEN cardinality(b_id) = 0;
        v_seen := v_seen || b_id;

        IF b_queue && v_capped OR cardinality(array_remove(b_res, NULL)) > 0 THEN
            -- Lock and give out free slots in one statement: each pool's
            -- units wanted by the batch, in claim order, get its free slots
            -- in slot order. A job starts if every unit it needs got one;
            -- a job turned down still counts in the pools it did fit, so this
            -- may take fewer than a job-by-job pass would, never more. A pool
            -- short of slots is shut for this claim. Slots retired by a
            -- lowered capacity but still held keep as many free ones out of
            -- use (locked here, not given), so what runs never exceeds the
            -- new capacity.
            WITH need AS (
                SELECT u.id, u.attempt, u.kind, u.name,
                       row_number() OVER (PARTITION BY u.kind, u.name ORDER BY u.o, u.g) AS rn
                FROM (
                    SELECT b.id, b.attempt, b.o, 'resource'::text AS kind, x.key AS name, g
                    FROM unnest(b_id, b_res, b_attempt, b_blocked)
                         WITH ORDINALITY AS b(id, res, attempt, blocked, o)
                    CROSS JOIN LATERAL jsonb_each_text(b.res) x
                    CROSS JOIN LATERAL generate_series(1, x.value::integer) g
                    WHERE b.res IS NOT NULL AND NOT b.blocked
                    UNION ALL
                    SELECT b.id, b.attempt, b.o, 'queue', b.queue, 1
                    FROM unnest(b_id, b_queue, b_attempt, b_blocked)
                         WITH ORDINALITY AS b(id, queue, attempt, blocked, o)
                    WHERE b.queue = ANY (v_capped) AND NOT b.blocked
                ) u
            ), wanted AS (
                SELECT n.kind, n.name, count(*)::integer AS units,
                       (SELECT count(*) FROM pgflow_slot_state r
                        WHERE r.kind = n.kind AND r.name = n.name AND r.retired AND r.held)::integer
                           AS retired,
                       (SELECT 1 + pg_backend_pid() % max(s.n) FROM pgflow_slot s
                        WHERE s.kind = n.kind AND s.name = n.name) AS start
                FROM need n GROUP BY n.kind, n.name
            ), given AS (
                -- Free slots, numbered past the retired ones held, matched to
                -- the units in claim order. Each session looks from a slot of
                -- its own onwards, then wraps: the slots its last batch
                -- just finished with come first (fewer holders to look up),
                -- and concurrent claims seldom reach for the same slots.
                -- The two ranges are scanned in turn; the second only when
                -- the first had too few.
                SELECT w.kind, w.name, f.n, n.id, n.attempt, n.rn
                FROM wanted w CROSS JOIN LATERAL (
                    SELECT f.n, row_number() OVER (ORDER BY f.part, f.n) - w.retired AS rn
                    FROM (SELECT r.part, a.n
                          FROM (VALUES (1, w.start, 2147483647), (2, 1, w.start)) AS r(part, lo, hi)
                          CROSS JOIN LATERAL (
                              SELECT s.n FROM pgflow_slot_state s
                              WHERE s.kind = w.kind AND s.name = w.name AND s.n >= r.lo AND s.n < r.hi
                                AND NOT s.retired AND NOT s.held
                              ORDER BY s.n
                              LIMIT w.units + w.retired
                              FOR UPDATE SKIP LOCKED) a
                          LIMIT w.units + w.retired) f
                ) f
                JOIN need n ON n.kind = w.kind AND n.name = w.name AND n.rn = f.rn
            ), give AS (
                -- Run to completion whether read or not.
                UPDATE pgflow_slot s SET job_id = g.id, attempt = g.attempt + 1
                FROM given g WHERE s.kind = g.kind AND s.name = g.name AND s.n = g.n
            ), short AS (
                SELECT n.id, n.kind || ':' || n.name AS pool FROM need n
                WHERE NOT EXISTS (SELECT 1 FROM given g
                                  WHERE g.kind = n.kind AND g.name = n.name AND g.rn = n.rn)
            )
            SELECT ARRAY(SELECT b.id FROM unnest(v_pick) WITH ORDINALITY AS b(id, o)
                         WHERE NOT EXISTS (SELECT 1 FROM short t WHERE t.id = b.id)
                         ORDER BY b.o),
                   ARRAY(SELECT DISTINCT t.id FROM short t),
                   ARRAY(SELECT DISTINCT t.pool FROM short t)
            INTO v_pick, v_down, v_shut;
            IF cardinality(v_down) > 0 THEN
                -- Turned down: what they did get goes back.
                UPDATE pgflow_slot s SET job_id = NULL, attempt = NULL WHERE s.job_id = ANY (v_down);
                -- One that asks for more than a capacity (lowered since it
                -- was enqueued, or a step started since) is set aside: it
                -- leaves the gated indexes, so no later claim is kept waiting
                -- by it (invariant 13); sync_limits takes it back in.
                UPDATE pgflow_job j SET impossible = django_pgflow.resources_problem(j.resources)
                WHERE j.id = ANY (v_down) AND j.resources IS NOT NULL
                  AND django_pgflow.resources_problem(j.resources) IS NOT NULL;
            END IF;
            IF cardinality(v_shut) > 0 THEN
                v_exhausted := v_exhausted || ARRAY(SELECT substr(x, 10) FROM unnest(v_shut) x
                                                    WHERE x LIKE 'resource:%');
                v_closed := v_closed || ARRAY(SELECT substr(x, 7) FROM unnest(v_shut) x
                                              WHERE x LIKE 'queue:%');
            END IF;
        END IF;
        v_taken := v_taken || v_pick;
        IF b_queue && v_rated THEN
            SELECT v_rated_taken || coalesce(array_agg(b.id ORDER BY b.o), '{}'),
                   v_rated_queue || coalesce(array_agg(b.queue ORDER BY b.o), '{}')
            INTO v_rated_taken, v_rated_queue
            FROM unnest(b_id, b_queue) WITH ORDINALITY AS b(id, queue, o)
            WHERE b.id = ANY (v_pick) AND b.queue = ANY (v_rated);
        END IF;

        -- A short batch was all there was; a full one may hide more behind it.
        EXIT WHEN cardinality(b_id) < v_want OR cardinality(v_taken) >= p_limit;
        IF cardinality(array_remove(b_key, NULL)) > 0 THEN
            v_keys := v_keys || ARRAY(
                SELECT b.lock_key FROM unnest(b_id, b_key, b_blocked) AS b(id, lock_key, blocked)
                WHERE b.lock_key IS NOT NULL AND (b.blocked OR b.id = ANY (v_pick)));
        END IF;
    END LOOP;
    -- Jobs and slots locked here but not taken stay locked until this claim
    -- commits: other claims skip them, which only delays them to the next
    -- wake-up or poll.

    -- The start time to record, read after every check above: later than
    -- any finish those checks saw committed, so the recorded intervals of
    -- one slot never overlap. Rate windows are counted at this same time.
    v_now := clock_timestamp();
    IF cardinality(v_rated_queue) > 0 THEN
        SELECT array_agg(t.x), array_agg(t.c) INTO v_rq, v_rc
        FROM (SELECT x, count(*)::integer AS c FROM unnest(v_rated_queue) x GROUP BY x) t;
        FOR k IN 1 .. cardinality(v_rq) LOOP
            q := v_rq[k];
            v_want := v_rc[k];
            v_left := v_want - django_pgflow.reserve_rate(q, v_want, v_now);
            IF v_left > 0 THEN
                -- The window filled since the look above: the last jobs of
                -- this queue wait for a later claim, and give back the slots
                -- given to them here.
                v_drop := v_drop || ARRAY(
                    SELECT t.id FROM unnest(v_rated_taken, v_rated_queue) WITH ORDINALITY AS t(id, queue, i)
                    WHERE t.queue = q ORDER BY t.i DESC LIMIT v_left);
            END IF;
        END LOOP;
    END IF;
    IF cardinality(v_drop) > 0 THEN
        UPDATE pgflow_slot s SET job_id = NULL, attempt = NULL WHERE s.job_id = ANY (v_drop);
        v_taken := ARRAY(SELECT t.id FROM unnest(v_taken) WITH ORDINALITY AS t(id, i)
                         WHERE NOT t.id = ANY (v_drop) ORDER BY t.i);
    END IF;
    ids := v_taken;
    started_at := v_now;
END;
$$;

COMMENT ON FUNCTION django_pgflow.claim_gated(text[], integer) IS
'claim()''s gated path: picks up to p_limit ready gated jobs (that need resources, hold a lock key, or belong to a queue with limits), only while what they need is free: a free slot per unit of each resource and of the queue''s concurrency cap (given to the attempt about to start), no started or earlier queued job with the same lock key, starts left in the queue''s rate window. Every gate is a row locked FOR UPDATE SKIP LOCKED, so concurrent claims do not wait for each other. Returns the ids and the start time to record for them.';
