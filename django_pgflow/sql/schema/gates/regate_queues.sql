CREATE OR REPLACE FUNCTION django_pgflow.regate_queues(p_limited_before text[])
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_after text[] := ARRAY(SELECT queue::text FROM pgflow_queue_limit);
BEGIN
    -- Queued jobs of a queue that gained or lost limits are gated again, as
    -- gated() says: the claim reads the flag, not the queue. Only changed
    -- queues are touched, through the ready indexes.
    UPDATE pgflow_job j SET gated = django_pgflow.gated(j.resources, j.lock_key, j.queue = ANY (v_after))
    WHERE j.status = 'queued'
      AND j.queue = ANY (ARRAY(
          (SELECT unnest(v_after) EXCEPT SELECT unnest(p_limited_before))
          UNION (SELECT unnest(p_limited_before) EXCEPT SELECT unnest(v_after))))
      AND j.gated IS DISTINCT FROM django_pgflow.gated(j.resources, j.lock_key, j.queue = ANY (v_after));
END;
$$;

COMMENT ON FUNCTION django_pgflow.regate_queues(text[]) IS
'After queue limits changed (p_limited_before: the queues that had limits), sets gated anew on the queued jobs of every queue that gained or lost them.';

REVOKE EXECUTE ON FUNCTION django_pgflow.regate_queues(text[]) FROM PUBLIC;
