CREATE OR REPLACE FUNCTION django_pgflow.resume_run(p_run_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
-- Key lookups only: a table analyzed while small must not turn them into
-- sequential scans that grow with every run (invariant 7).
SET enable_seqscan = off
-- The disabled plan nodes above carry a huge cost on PostgreSQL <= 17, which
-- would make every call cross the JIT thresholds and compile (hundreds of ms).
SET jit = off
AS $$
DECLARE
    v_flow_id bigint;
BEGIN
    UPDATE pgflow_run SET status = 'started', finished_at = NULL, error = NULL, output = NULL
    WHERE id = p_run_id AND status IN ('failed', 'cancelled')
    RETURNING flow_id INTO v_flow_id;
    IF NOT FOUND THEN
        RETURN false;
    END IF;

    -- Completed (and deliberately skipped) steps keep their outcome; failed
    -- and cancelled steps run again from scratch, their old tasks replaced.
    DELETE FROM pgflow_step_task t USING pgflow_step_state st
    WHERE st.run_id = p_run_id AND t.run_id = p_run_id AND t.step_slug = st.step_slug
      AND st.status IN ('failed', 'cancelled');
    UPDATE pgflow_step_state
    SET status = 'created', output = NULL, error = NULL, started_at = NULL, finished_at = NULL,
        remaining_tasks = NULL, initial_tasks = NULL
    WHERE run_id = p_run_id AND status IN ('failed', 'cancelled');

    UPDATE pgflow_step_state st SET remaining_deps = (
        SELECT count(*) FROM pgflow_step_dep d
        JOIN pgflow_step_state ds ON ds.run_id = p_run_id AND ds.step_slug = d.dep_slug
        WHERE d.flow_id = v_flow_id AND d.step_slug = st.step_slug
          AND ds.status NOT IN ('completed', 'skipped'))
    WHERE st.run_id = p_run_id AND st.status = 'created';
    UPDATE pgflow_run SET remaining_steps = (
        SELECT count(*) FROM pgflow_step_state
        WHERE run_id = p_run_id AND status NOT IN ('completed', 'skipped'))
    WHERE id = p_run_id;

    PERFORM django_pgflow.start_ready_steps(p_run_id);
    PERFORM django_pgflow.maybe_complete_run(p_run_id);
    RETURN true;
END;
$$;

COMMENT ON FUNCTION django_pgflow.resume_run(bigint) IS
'Resumes a failed or cancelled run: completed steps keep their outputs, failed, cancelled and never-run steps run (again). False for a run in any other status.';

REVOKE EXECUTE ON FUNCTION django_pgflow.resume_run(bigint) FROM PUBLIC;
