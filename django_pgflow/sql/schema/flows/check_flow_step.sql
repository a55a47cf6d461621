CREATE OR REPLACE FUNCTION django_pgflow.check_flow_step(p_step jsonb, p_ord bigint)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_what text := format('step %s', coalesce(quote_literal(p_step->>'slug'), p_ord::text));
BEGIN
    IF jsonb_typeof(p_step) IS DISTINCT FROM 'object'
       OR coalesce(p_step->>'slug', '') !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'pgflow: % needs a slug of 1-63 lowercase letters, digits or _, starting with a letter', v_what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(p_step->>'step_type', '') NOT IN ('single', 'map')
       OR coalesce(p_step->>'on_failure', '') NOT IN ('fail', 'skip', 'skip_cascade')
       OR coalesce(p_step->>'on_condition_false', '') NOT IN ('fail', 'skip', 'skip_cascade') THEN
        RAISE EXCEPTION 'pgflow: % needs step_type single or map, and on_failure and on_condition_false among fail, skip, skip_cascade', v_what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM django_pgflow.check_whole(v_what || ' max_attempts', p_step->'max_attempts', 1, 1000000, true),
            django_pgflow.check_whole(v_what || ' priority', p_step->'priority', -32768, 32767),
            django_pgflow.check_queue_name(p_step->>'queue'),
            django_pgflow.check_resources(p_step->'resources'),
            django_pgflow.check_json(v_what || ' condition', p_step->'condition', 65536),
            django_pgflow.check_json(v_what || ' condition_not', p_step->'condition_not', 65536);
    IF p_step->>'slug' = 'input' THEN
        RAISE EXCEPTION 'pgflow: a step may not be named input: a step''s parameter of that name receives the run input'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(p_step->'base_delay') = 'number' THEN
        PERFORM django_pgflow.check_seconds(v_what || ' base_delay', (p_step->>'base_delay')::float8);
    END IF;
    IF jsonb_typeof(p_step->'timeout') = 'number' THEN
        PERFORM django_pgflow.check_seconds(v_what || ' timeout', (p_step->>'timeout')::float8, false);
    END IF;
    PERFORM django_pgflow.check_seconds(v_what || ' start_delay', (p_step->>'start_delay')::float8);
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_flow_step(jsonb, bigint) IS
'Raises invalid_parameter_value naming the step (or its 1-based position p_ord) when one step of a sync_flow() definition has a bad slug, kind, policy, queue, priority, attempts, delay, timeout, condition or resources.';

REVOKE EXECUTE ON FUNCTION django_pgflow.check_flow_step(jsonb,bigint) FROM PUBLIC;
