CREATE OR REPLACE FUNCTION django_pgflow.start_ready_steps(p_run_id bigint)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- An internal step of a cascade: it runs inside an entry point (start_flow,
-- on_step_job, cancel_run, resume_run) whose SET enable_seqscan = off still
-- holds here. Repeating it would cost a GUC save/restore per call.
AS $$
DECLARE
    v_state record;
    v_started integer := 0;
BEGIN
    -- One ready step at a time: starting a step can complete it (a map over
    -- []) and so make others ready, which the next iteration then sees.
    LOOP
        SELECT st.id, st.step_slug, s.id AS step_id
        INTO v_state
        FROM pgflow_step_state st JOIN pgflow_step s ON s.id = st.step_id
        WHERE st.run_id = p_run_id AND st.status = 'created' AND st.remaining_deps = 0
        ORDER BY s.index
        LIMIT 1;
        EXIT WHEN NOT FOUND;
        PERFORM django_pgflow.start_step(p_run_id, v_state.step_slug);
        v_started := v_started + 1;
        EXIT WHEN (SELECT status FROM pgflow_run WHERE id = p_run_id) <> 'started';
    END LOOP;
    RETURN v_started;
END;
$$;

COMMENT ON FUNCTION django_pgflow.start_ready_steps(bigint) IS
'Starts every step of a run whose dependencies are all done, until none is left or the run ends.';

REVOKE EXECUTE ON FUNCTION django_pgflow.start_ready_steps(bigint) FROM PUBLIC;
