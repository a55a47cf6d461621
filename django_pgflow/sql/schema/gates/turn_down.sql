CREATE OR REPLACE FUNCTION django_pgflow.turn_down(p_jobs bigint[], p_attempts integer[])
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
BEGIN
    -- What they did get in this claim goes back: the slots naming the
    -- attempt it would have started. A slot still naming an earlier attempt
    -- of the job may be another claim's to hand out (locked by it), and must
    -- not make this claim wait for that one's transaction.
    UPDATE pgflow_slot s SET job_id = NULL, attempt = NULL
    FROM unnest(p_jobs, p_attempts) AS d(job_id, attempt)
    WHERE s.job_id = d.job_id AND s.attempt = d.attempt;
    -- One that asks for more than a capacity (lowered since it was enqueued,
    -- or a step started since) is set aside: it leaves the gated indexes, so
    -- no later claim is kept waiting by it (invariant 13); sync_limits takes
    -- it back in.
    UPDATE pgflow_job j SET impossible = django_pgflow.resources_problem(j.resources)
    WHERE j.id = ANY (p_jobs) AND j.resources IS NOT NULL
      AND django_pgflow.resources_problem(j.resources) IS NOT NULL;
END;
$$;

COMMENT ON FUNCTION django_pgflow.turn_down(bigint[], integer[]) IS
'For jobs give_slots() could not start (ids, and the attempt each would have started): frees the slots this claim gave them, and sets aside (pgflow_job.impossible) those that ask for more than a capacity.';

REVOKE EXECUTE ON FUNCTION django_pgflow.turn_down(bigint[], integer[]) FROM PUBLIC;
