CREATE OR REPLACE FUNCTION django_pgflow.give_slots(
    p_id bigint[], p_queue text[], p_res jsonb[], p_attempt integer[], p_blocked boolean[],
    p_pick bigint[], p_capped text[],
    OUT pick bigint[], OUT exhausted text[], OUT closed text[]
)
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_down bigint[];
    v_down_attempts integer[];
    v_shut text[];
BEGIN
    -- Lock and give out free slots in one statement: each pool's units
    -- wanted by the batch, in claim order, get its free slots in slot order.
    -- A job starts if every unit it needs got one (a job turned down still
    -- counts in the pools it did fit: fewer than a job-by-job pass, never
    -- more). A pool short of slots is shut for this claim. Retired slots
    -- still held keep as many free ones out of use (never over capacity).
    WITH need AS (
        SELECT u.id, u.attempt, u.kind, u.name,
               row_number() OVER (PARTITION BY u.kind, u.name ORDER BY u.o, u.g) AS rn
        FROM (
            SELECT b.id, b.attempt, b.o, 'resource'::text AS kind, x.key AS name, g
            FROM unnest(p_id, p_res, p_attempt, p_blocked)
                 WITH ORDINALITY AS b(id, res, attempt, blocked, o)
            CROSS JOIN LATERAL jsonb_each_text(b.res) x
            CROSS JOIN LATERAL generate_series(1, x.value::integer) g
            WHERE b.res IS NOT NULL AND NOT b.blocked
            UNION ALL
            SELECT b.id, b.attempt, b.o, 'queue', b.queue, 1
            FROM unnest(p_id, p_queue, p_attempt, p_blocked)
                 WITH ORDINALITY AS b(id, queue, attempt, blocked, o)
            WHERE b.queue = ANY (p_capped) AND NOT b.blocked
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
        -- Free slots, numbered past the retired ones held, matched to the
        -- units in claim order. Each session looks from a slot of its own
        -- onwards, then wraps (its last batch's slots come first, and
        -- concurrent claims seldom reach for the same slots); the second
        -- range is scanned only when the first had too few.
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
    SELECT ARRAY(SELECT b.id FROM unnest(p_pick) WITH ORDINALITY AS b(id, o)
                 WHERE NOT EXISTS (SELECT 1 FROM short t WHERE t.id = b.id)
                 ORDER BY b.o),
           ARRAY(SELECT DISTINCT t.id FROM short t),
           ARRAY(SELECT DISTINCT t.pool FROM short t)
    INTO pick, v_down, v_shut;
    IF cardinality(v_down) > 0 THEN
        SELECT array_agg(b.id), array_agg(b.attempt + 1) INTO v_down, v_down_attempts
        FROM unnest(p_id, p_attempt) AS b(id, attempt) WHERE b.id = ANY (v_down);
        PERFORM django_pgflow.turn_down(v_down, v_down_attempts);
    END IF;
    exhausted := ARRAY(SELECT substr(x, 10) FROM unnest(v_shut) x WHERE x LIKE 'resource:%');
    closed := ARRAY(SELECT substr(x, 7) FROM unnest(v_shut) x WHERE x LIKE 'queue:%');
END;
$$;

COMMENT ON FUNCTION django_pgflow.give_slots(bigint[], text[], jsonb[], integer[], boolean[], bigint[], text[]) IS
'claim_gated()''s slots for one batch (parallel arrays, as pick_gated_batch() returns them): gives each job of p_pick a free slot per unit it needs, in claim order, in one statement; returns the jobs that got all they need (pick) and the resources (exhausted) and capped queues (closed) short of slots. Jobs turned down give back what they got; one asking for more than a capacity is set aside (pgflow_job.impossible).';

REVOKE EXECUTE ON FUNCTION django_pgflow.give_slots(bigint[], text[], jsonb[], integer[], boolean[], bigint[], text[]) FROM PUBLIC;
