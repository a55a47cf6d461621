CREATE OR REPLACE FUNCTION django_pgflow.recheck_impossible()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
BEGIN
    -- Capacities changed: jobs set aside may fit now (the next claim looks at
    -- them again), and queued jobs that no longer fit are set aside.
    UPDATE pgflow_job j SET impossible = NULL
    WHERE j.status = 'queued' AND j.impossible IS NOT NULL;
    UPDATE pgflow_job j SET impossible = django_pgflow.resources_problem(j.resources)
    WHERE j.status = 'queued' AND j.gated AND j.impossible IS NULL AND j.resources IS NOT NULL
      AND django_pgflow.resources_problem(j.resources) IS NOT NULL;
END;
$$;

COMMENT ON FUNCTION django_pgflow.recheck_impossible() IS
'After capacities changed: clears pgflow_job.impossible on every queued job, then sets it (resources_problem()) on those whose resources no longer fit.';

REVOKE EXECUTE ON FUNCTION django_pgflow.recheck_impossible() FROM PUBLIC;
