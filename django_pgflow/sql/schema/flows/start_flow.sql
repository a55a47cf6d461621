CREATE OR REPLACE FUNCTION django_pgflow.start_flow(
    p_flow_slug text, p_input jsonb, p_run_key text DEFAULT NULL, p_metadata jsonb DEFAULT NULL
)
RETURNS bigint
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
    v_flow pgflow_flow;
    v_run_id bigint;
    v_problem text;
BEGIN
    SELECT * INTO v_flow FROM pgflow_flow WHERE slug = p_flow_slug ORDER BY version DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pgflow: unknown flow %', quote_literal(coalesce(p_flow_slug, 'NULL'))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Define a Flow subclass with that slug and run migrate (or start a worker) to sync it.';
    END IF;
    IF p_input IS NULL THEN
        RAISE EXCEPTION 'pgflow: the input of a run must be JSON (JSON null included), got SQL NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM django_pgflow.check_json('input', p_input),
            django_pgflow.check_key('run_key', p_run_key);
    -- A root map step maps over the input: anything but an array would only
    -- fail the run it created.
    SELECT format('its root map step %s needs an array as input, got %s', s.slug, jsonb_typeof(p_input))
    INTO v_problem FROM pgflow_step s
    WHERE s.flow_id = v_flow.id AND s.step_type = 'map' AND s.dep_count = 0
      AND jsonb_typeof(p_input) <> 'array'
    ORDER BY s.index LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'pgflow: flow % cannot start: %', p_flow_slug, v_problem
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT format('step %s %s', s.slug, django_pgflow.resources_problem(s.resources)) INTO v_problem
    FROM pgflow_step s
    WHERE s.flow_id = v_flow.id AND s.resources IS NOT NULL
      AND django_pgflow.resources_problem(s.resources) IS NOT NULL
    ORDER BY s.index LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'pgflow: flow % cannot run: its %', p_flow_slug, v_problem
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Declare the resource with enough capacity in PGFLOW["RESOURCES"] and restart the workers (or run pgflow_sync).';
    END IF;

    INSERT INTO pgflow_run (flow_id, flow_slug, status, input, remaining_steps, run_key, metadata, created_at)
    VALUES (v_flow.id, v_flow.slug, 'started', p_input,
            (SELECT count(*) FROM pgflow_step WHERE flow_id = v_flow.id), p_run_key,
            django_pgflow.check_metadata(p_metadata), now())
    ON CONFLICT (flow_slug, run_key) DO NOTHING
    RETURNING id INTO v_run_id;
    IF v_run_id IS NULL THEN
        -- The same run key was started before: that run is the answer.
        SELECT id INTO v_run_id FROM pgflow_run WHERE flow_slug = p_flow_slug AND run_key = p_run_key;
        RETURN v_run_id;
    END IF;

    INSERT INTO pgflow_step_state (run_id, step_id, step_slug, status, remaining_deps, created_at)
    SELECT v_run_id, s.id, s.slug, 'created', s.dep_count, now()
    FROM pgflow_step s WHERE s.flow_id = v_flow.id ORDER BY s.index;

    PERFORM django_pgflow.start_ready_steps(v_run_id);
    RETURN v_run_id;
END;
$$;

COMMENT ON FUNCTION django_pgflow.start_flow(text, jsonb, text, jsonb) IS
'Starts a run of the latest version of a flow and its root steps; returns the run id. Refuses (invalid_parameter_value) a SQL NULL, unreadable or oversized input, an empty run key, a root map step given anything but an array, and a flow with a step whose resources could never be given. p_metadata (a JSON object) travels with the run and every task of it. With a run key that was used before for this flow, returns that run instead (idempotent start).';

REVOKE EXECUTE ON FUNCTION django_pgflow.start_flow(text, jsonb, text, jsonb) FROM PUBLIC;
