CREATE OR REPLACE FUNCTION django_pgflow.release_dependents(p_run_id bigint, p_step_slug text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- An internal step of a cascade: it runs inside an entry point (start_flow,
-- on_step_job, cancel_run, resume_run) whose SET enable_seqscan = off still
-- holds here. Repeating it would cost a GUC save/restore per call.
AS $$
BEGIN
    -- The step is done (completed or skipped): one dependency fewer for each
    -- dependent, one step fewer for the run.
    UPDATE pgflow_step_state st SET remaining_deps = st.remaining_deps - 1
    FROM pgflow_run r, pgflow_step_dep d
    WHERE r.id = p_run_id AND st.run_id = p_run_id
      AND d.flow_id = r.flow_id AND d.dep_slug = p_step_slug AND st.step_slug = d.step_slug
      AND st.status = 'created';
    UPDATE pgflow_run SET remaining_steps = remaining_steps - 1 WHERE id = p_run_id;
    PERFORM django_pgflow.start_ready_steps(p_run_id);
    PERFORM django_pgflow.maybe_complete_run(p_run_id);
END;
$$;

COMMENT ON FUNCTION django_pgflow.release_dependents(bigint, text) IS
'After a step completed or was skipped: decrements its dependents'' and the run''s counters, starts ready steps, completes the run when nothing remains.';

REVOKE EXECUTE ON FUNCTION django_pgflow.release_dependents(bigint,text) FROM PUBLIC;
