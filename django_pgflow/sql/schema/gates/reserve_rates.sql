CREATE OR REPLACE FUNCTION django_pgflow.reserve_rates(
    p_taken bigint[], p_rated_taken bigint[], p_rated_queue text[], p_at timestamptz
)
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_drop bigint[] := '{}';
    v_left integer;
    r record;
BEGIN
    -- Each rate-limited queue taken from reserves its starts at p_at, the
    -- start time the claim records.
    FOR r IN SELECT x AS queue, count(*)::integer AS wanted
             FROM unnest(p_rated_queue) x GROUP BY x LOOP
        v_left := r.wanted - django_pgflow.reserve_rate(r.queue, r.wanted, p_at);
        IF v_left > 0 THEN
            -- The window filled since the claim looked: the last jobs of this
            -- queue wait for a later claim, and give back the slots given to
            -- them here.
            v_drop := v_drop || ARRAY(
                SELECT t.id FROM unnest(p_rated_taken, p_rated_queue) WITH ORDINALITY AS t(id, queue, i)
                WHERE t.queue = r.queue ORDER BY t.i DESC LIMIT v_left);
        END IF;
    END LOOP;
    IF cardinality(v_drop) = 0 THEN
        RETURN p_taken;
    END IF;
    UPDATE pgflow_slot s SET job_id = NULL, attempt = NULL WHERE s.job_id = ANY (v_drop);
    RETURN ARRAY(SELECT t.id FROM unnest(p_taken) WITH ORDINALITY AS t(id, i)
                 WHERE NOT t.id = ANY (v_drop) ORDER BY t.i);
END;
$$;

COMMENT ON FUNCTION django_pgflow.reserve_rates(bigint[], bigint[], text[], timestamptz) IS
'claim_gated()''s last step: reserves the starts of the rate-limited jobs taken (p_rated_taken, with their queues) at p_at; returns p_taken without the jobs whose queue''s window filled meanwhile, whose slots it gives back.';

REVOKE EXECUTE ON FUNCTION django_pgflow.reserve_rates(bigint[], bigint[], text[], timestamptz) FROM PUBLIC;
