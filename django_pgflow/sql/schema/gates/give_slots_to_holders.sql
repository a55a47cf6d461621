CREATE OR REPLACE FUNCTION django_pgflow.give_slots_to_holders(p_kind text, p_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    h record;
    v_slot integer;
BEGIN
    -- Started jobs hold what they need (after an upgrade, or a capacity
    -- declared again while its jobs ran): a slot each unit, a retired one
    -- past the capacity.
    FOR h IN
        SELECT j.id, j.attempts,
               (CASE WHEN p_kind = 'queue' THEN 1 ELSE (j.resources->>p_name)::integer END)
               - (SELECT count(*) FROM pgflow_slot s
                  WHERE s.kind = p_kind AND s.name = p_name
                    AND s.job_id = j.id AND s.attempt = j.attempts)::integer AS missing
        FROM pgflow_job j
        WHERE j.status = 'started'
          AND CASE WHEN p_kind = 'queue' THEN j.queue = p_name ELSE j.resources ? p_name END
    LOOP
        FOR i IN 1..h.missing LOOP
            SELECT s.n INTO v_slot FROM pgflow_slot s
            WHERE s.kind = p_kind AND s.name = p_name AND s.job_id IS NULL AND NOT s.retired
            ORDER BY s.n LIMIT 1 FOR UPDATE;
            IF FOUND THEN
                UPDATE pgflow_slot s SET job_id = h.id, attempt = h.attempts
                WHERE s.kind = p_kind AND s.name = p_name AND s.n = v_slot;
            ELSE
                INSERT INTO pgflow_slot (kind, name, n, job_id, attempt, retired)
                SELECT p_kind, p_name, coalesce(max(s.n), 0) + 1, h.id, h.attempts, true
                FROM pgflow_slot s WHERE s.kind = p_kind AND s.name = p_name;
            END IF;
        END LOOP;
    END LOOP;
END;
$$;

COMMENT ON FUNCTION django_pgflow.give_slots_to_holders(text, text) IS
'sync_slots()''s first pass over one pool (a resource, or a queue''s concurrency cap): gives every started job the slots it needs and lacks, free ones first, then new retired ones past the capacity.';

REVOKE EXECUTE ON FUNCTION django_pgflow.give_slots_to_holders(text, text) FROM PUBLIC;
