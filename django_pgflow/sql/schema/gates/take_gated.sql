CREATE OR REPLACE FUNCTION django_pgflow.take_gated(
    p_queues text[], p_limit integer, p_one text, p_capped text[], p_rated text[], p_closed text[],
    OUT taken bigint[], OUT rated_taken bigint[], OUT rated_queue text[]
)
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_closed text[] := p_closed; -- queues with nothing more for this claim
    v_exhausted text[] := '{}';  -- resources with no free slot for this claim
    v_keys text[] := '{}';       -- lock keys taken or found busy here
    v_seen bigint[] := '{}';     -- jobs locked here (SKIP LOCKED does not skip our own)
    v_want integer;
    b record;                    -- a batch (pick_gated_batch)
    g record;                    -- what give_slots() gave of it
BEGIN
    taken := '{}';
    rated_taken := '{}';
    rated_queue := '{}';
    -- No lock is shared by all claims: every gate is a row locked FOR UPDATE
    -- SKIP LOCKED (the job, a free slot per unit of capacity it needs, a rate
    -- shard), so claims of one GPU or one queue from many workers run and
    -- commit side by side. Jobs come in batches in claim order, set-based; a
    -- batch whose jobs cannot all start is followed by another, up to 1000
    -- jobs looked at per claim.
    LOOP
        v_want := p_limit - cardinality(taken);
        EXIT WHEN v_want <= 0 OR cardinality(v_seen) >= 1000;
        b := django_pgflow.pick_gated_batch(p_queues, p_one, v_closed, v_exhausted, v_keys, v_seen, v_want);
        EXIT WHEN cardinality(b.id) = 0;
        v_seen := v_seen || b.id;
        IF b.queue && p_capped OR cardinality(array_remove(b.res, NULL)) > 0 THEN
            g := django_pgflow.give_slots(b.id, b.queue, b.res, b.attempt, b.blocked, b.pick, p_capped);
            b.pick := g.pick;
            v_exhausted := v_exhausted || g.exhausted;
            v_closed := v_closed || g.closed;
        END IF;
        taken := taken || b.pick;
        IF b.queue && p_rated THEN
            SELECT rated_taken || coalesce(array_agg(x.id ORDER BY x.o), '{}'),
                   rated_queue || coalesce(array_agg(x.queue ORDER BY x.o), '{}')
            INTO rated_taken, rated_queue
            FROM unnest(b.id, b.queue) WITH ORDINALITY AS x(id, queue, o)
            WHERE x.id = ANY (b.pick) AND x.queue = ANY (p_rated);
        END IF;
        -- A short batch was all there was; a full one may hide more behind it.
        EXIT WHEN cardinality(b.id) < v_want OR cardinality(taken) >= p_limit;
        IF cardinality(array_remove(b.lock_key, NULL)) > 0 THEN
            v_keys := v_keys || ARRAY(
                SELECT x.lock_key FROM unnest(b.id, b.lock_key, b.blocked) AS x(id, lock_key, blocked)
                WHERE x.lock_key IS NOT NULL AND (x.blocked OR x.id = ANY (b.pick)));
        END IF;
    END LOOP;
END;
$$;

COMMENT ON FUNCTION django_pgflow.take_gated(text[], integer, text, text[], text[], text[]) IS
'claim_gated()''s loop: takes up to p_limit gated jobs batch by batch (pick_gated_batch, give_slots), skipping closed queues, exhausted resources and busy lock keys, up to 1000 jobs looked at; returns them in claim order, and those of rate-limited queues (p_rated) with their queues.';

REVOKE EXECUTE ON FUNCTION django_pgflow.take_gated(text[], integer, text, text[], text[], text[]) FROM PUBLIC;
