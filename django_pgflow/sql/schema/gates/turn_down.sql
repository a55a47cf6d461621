CREATE OR REPLACE FUNCTION django_pgflow.turn_down(p_jobs bigint[])
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
BEGIN
    -- What they did get goes back.
    UPDATE pgflow_slot s SET job_id = NULL, attempt = NULL WHERE s.job_id = ANY (p_jobs);
    -- One that asks for more than a capacity (lowered since it was enqueued,
    -- or a step started since) is set aside: it leaves the gated indexes, so
    -- no later claim is kept waiting by it (invariant 13); sync_limits takes
    -- it back in.
    UPDATE pgflow_job j SET impossible = django_pgflow.resources_problem(j.resources)
    WHERE j.id = ANY (p_jobs) AND j.resources IS NOT NULL
      AND django_pgflow.resources_problem(j.resources) IS NOT NULL;
END;
$$;

COMMENT ON FUNCTION django_pgflow.turn_down(bigint[]) IS
'For jobs give_slots() could not start: frees the slots they were given, and sets aside (pgflow_job.impossible) those that ask for more than a capacity.';

REVOKE EXECUTE ON FUNCTION django_pgflow.turn_down(bigint[]) FROM PUBLIC;
