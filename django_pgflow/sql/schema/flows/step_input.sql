CREATE OR REPLACE FUNCTION django_pgflow.step_input(p_run_id bigint, p_step_slug text)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path FROM CURRENT
-- An internal step of a cascade: it runs inside an entry point (start_flow,
-- on_step_job, cancel_run, resume_run) whose SET enable_seqscan = off still
-- holds here. Repeating it would cost a GUC save/restore per call.
AS $$
    -- A root step's input is the run input; any other step's is an object of
    -- its dependencies' outputs keyed by their slugs. A skipped dependency
    -- has no key (as in pgflow): nothing ran, so there is no output, not even
    -- null. A step that wants the run input too reads it from its run.
    SELECT CASE WHEN s.dep_count = 0 THEN r.input ELSE (
        SELECT coalesce(jsonb_object_agg(d.dep_slug, ds.output), '{}'::jsonb)
        FROM pgflow_step_dep d
        JOIN pgflow_step_state ds ON ds.run_id = r.id AND ds.step_slug = d.dep_slug
        WHERE d.flow_id = r.flow_id AND d.step_slug = p_step_slug AND ds.status <> 'skipped'
    ) END
    FROM pgflow_run r JOIN pgflow_step s ON s.flow_id = r.flow_id AND s.slug = p_step_slug
    WHERE r.id = p_run_id;
$$;

COMMENT ON FUNCTION django_pgflow.step_input(bigint, text) IS
'The input of a step of a run: the run input for a root step, else its dependencies'' outputs keyed by their slugs, a skipped dependency left out.';

REVOKE EXECUTE ON FUNCTION django_pgflow.step_input(bigint,text) FROM PUBLIC;
