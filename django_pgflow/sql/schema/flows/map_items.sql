CREATE OR REPLACE FUNCTION django_pgflow.map_items(p_run pgflow_run, p_step pgflow_step, p_input jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_items jsonb;
    v_source text;
BEGIN
    -- A root map step maps over the run input; any other, over its one dependency's output.
    IF p_step.dep_count = 0 THEN
        v_items := p_run.input;
        v_source := 'the run input';
    ELSE
        SELECT d.dep_slug INTO v_source FROM pgflow_step_dep d
        WHERE d.flow_id = p_run.flow_id AND d.step_slug = p_step.slug;
        v_items := p_input -> v_source;
        v_source := format('step %s', v_source);
    END IF;
    IF jsonb_typeof(v_items) IS DISTINCT FROM 'array' THEN
        PERFORM django_pgflow.fail_run(p_run.id, p_step.slug, jsonb_build_object(
            'error', 'TypeViolation',
            'message', format('map step %s expects an array from %s, got %s',
                              p_step.slug, v_source, coalesce(jsonb_typeof(v_items), 'nothing'))));
        RETURN NULL;
    END IF;
    RETURN v_items;
END;
$$;

COMMENT ON FUNCTION django_pgflow.map_items(pgflow_run, pgflow_step, jsonb) IS
'The array a map step maps over (the run input for a root step, else its dependency''s output), or NULL after failing the run with a TypeViolation naming both steps when it is not an array.';

REVOKE EXECUTE ON FUNCTION django_pgflow.map_items(pgflow_run, pgflow_step, jsonb) FROM PUBLIC;
