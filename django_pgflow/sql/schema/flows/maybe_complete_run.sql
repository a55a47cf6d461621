CREATE OR REPLACE FUNCTION django_pgflow.maybe_complete_run(p_run_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- An internal step of a cascade: it runs inside an entry point (start_flow,
-- on_step_job, cancel_run, resume_run) whose SET enable_seqscan = off still
-- holds here. Repeating it would cost a GUC save/restore per call.
AS $$
BEGIN
    UPDATE pgflow_run r
    SET status = 'completed', finished_at = now(),
        output = (
            SELECT coalesce(jsonb_object_agg(st.step_slug, st.output), '{}'::jsonb)
            FROM pgflow_step_state st JOIN pgflow_step s ON s.id = st.step_id
            WHERE st.run_id = r.id AND s.is_leaf
        )
    WHERE r.id = p_run_id AND r.status = 'started' AND r.remaining_steps = 0;
    RETURN FOUND;
END;
$$;

COMMENT ON FUNCTION django_pgflow.maybe_complete_run(bigint) IS
'Completes a run whose steps are all done, with the outputs of its leaf steps keyed by slug.';

REVOKE EXECUTE ON FUNCTION django_pgflow.maybe_complete_run(bigint) FROM PUBLIC;
