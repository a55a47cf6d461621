CREATE OR REPLACE FUNCTION django_pgflow.complete_and_claim(
    p_worker_id bigint,
    p_queues text[],
    p_limit integer,
    p_lease_margin float8,
    p_ids bigint[],
    p_attempts integer[],
    p_results jsonb[],
    p_run_ids bigint[] DEFAULT NULL
)
RETURNS TABLE (
    late_id bigint,
    id bigint, queue text, task_name text, args jsonb, kwargs jsonb, attempts integer,
    priority integer, timeout float8, run_id bigint, task_index integer, metadata jsonb
)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_applied bigint[];
BEGIN
    -- A worker's loop in one round trip and one commit. Both halves are the
    -- functions themselves, called, never copied: fencing, the run locks and
    -- the step cascade are complete_many's; order, leases and attempts are
    -- claim's. Completing first lets the claim pick the steps it released.
    IF cardinality(p_ids) > 0 THEN
        v_applied := ARRAY(
            SELECT c.id FROM django_pgflow.complete_many(p_worker_id, p_ids, p_attempts, p_results, p_run_ids) AS c(id)
        );
        -- Late reports are rare: name them rather than echo every applied id.
        IF cardinality(v_applied) < cardinality(p_ids) THEN
            RETURN QUERY
            SELECT u.id, NULL::bigint, NULL::text, NULL::text, NULL::jsonb, NULL::jsonb,
                   NULL::integer, NULL::integer, NULL::float8, NULL::bigint, NULL::integer, NULL::jsonb
            FROM unnest(p_ids) AS u(id)
            WHERE u.id <> ALL (v_applied);
        END IF;
    END IF;

    IF p_limit > 0 THEN
        RETURN QUERY
        SELECT NULL::bigint, c.id, c.queue, c.task_name, c.args, c.kwargs, c.attempts,
               c.priority, c.timeout, c.run_id, c.task_index, c.metadata
        FROM django_pgflow.claim(p_worker_id, p_queues, p_limit, p_lease_margin) AS c;
    END IF;
END;
$$;

COMMENT ON FUNCTION django_pgflow.complete_and_claim(bigint, text[], integer, float8, bigint[], integer[], jsonb[], bigint[]) IS
'complete_many(p_worker_id, p_ids, p_attempts, p_results, p_run_ids) then claim(p_worker_id, p_queues, p_limit, p_lease_margin), in one transaction. Returns one row per late report (late_id set, the rest NULL: that completion was ignored), then the claimed rows in claim order (late_id NULL). An error in either half rolls back both.';

REVOKE EXECUTE ON FUNCTION django_pgflow.complete_and_claim(bigint,text[],integer,double precision,bigint[],integer[],jsonb[],bigint[]) FROM PUBLIC;
