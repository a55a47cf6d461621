CREATE OR REPLACE FUNCTION django_pgflow.skip_step(
    p_run_id bigint, p_step_slug text, p_cascade boolean, p_reason jsonb
)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- An internal step of a cascade: it runs inside an entry point (start_flow,
-- on_step_job, cancel_run, resume_run) whose SET enable_seqscan = off still
-- holds here. Repeating it would cost a GUC save/restore per call.
AS $$
DECLARE
    v_flow_id bigint;
    v_skipped integer;
BEGIN
    SELECT flow_id INTO v_flow_id FROM pgflow_run WHERE id = p_run_id;
    -- The step's status changes first, so the cancellations below are seen
    -- by django_pgflow.on_step_job as part of this skip, not as new failures.
    UPDATE pgflow_step_state SET status = 'skipped', output = NULL, error = p_reason, finished_at = now()
    WHERE run_id = p_run_id AND step_slug = p_step_slug;
    PERFORM django_pgflow.cancel_step_jobs(p_run_id, ARRAY[p_step_slug]);

    IF NOT p_cascade THEN
        PERFORM django_pgflow.release_dependents(p_run_id, p_step_slug);
        RETURN;
    END IF;

    WITH RECURSIVE downstream(slug) AS (
        SELECT d.step_slug FROM pgflow_step_dep d WHERE d.flow_id = v_flow_id AND d.dep_slug = p_step_slug
        UNION
        SELECT d.step_slug FROM pgflow_step_dep d JOIN downstream ON d.dep_slug = downstream.slug
        WHERE d.flow_id = v_flow_id
    )
    UPDATE pgflow_step_state st
    SET status = 'skipped', output = NULL, finished_at = now(),
        error = jsonb_build_object('error', 'Skipped', 'message', format('upstream step %s was skipped', p_step_slug))
    WHERE st.run_id = p_run_id AND st.step_slug IN (SELECT slug FROM downstream) AND st.status = 'created';
    GET DIAGNOSTICS v_skipped = ROW_COUNT;
    UPDATE pgflow_run SET remaining_steps = remaining_steps - 1 - v_skipped WHERE id = p_run_id;
    PERFORM django_pgflow.maybe_complete_run(p_run_id);
END;
$$;

COMMENT ON FUNCTION django_pgflow.skip_step(bigint, text, boolean, jsonb) IS
'Skips a step (its dependents get null for it), or with p_cascade skips it and every step downstream of it.';

REVOKE EXECUTE ON FUNCTION django_pgflow.skip_step(bigint,text,boolean,jsonb) FROM PUBLIC;
