-- Flow definitions are written through sync_flow(), not by the worker's own
-- INSERTs and UPDATEs: a role that runs workers needs no write privilege on
-- any table, and what it writes is checked here as the Flow DSL checks it.
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
            django_pgflow.check_json(v_what || ' condition', p_step->'condition', 65536);
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

CREATE OR REPLACE FUNCTION django_pgflow.check_flow(p_flow jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_problem text;
BEGIN
    IF jsonb_typeof(p_flow) IS DISTINCT FROM 'object' OR coalesce(p_flow->>'slug', '') !~ '^[a-z][a-z0-9_]{0,62}$'
       OR jsonb_typeof(p_flow->'steps') IS DISTINCT FROM 'array' OR jsonb_typeof(p_flow->'deps') IS DISTINCT FROM 'array'
       OR jsonb_array_length(p_flow->'steps') NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'pgflow: a flow definition is an object with a valid slug, 1 to 1000 steps and their deps'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM django_pgflow.check_whole('flow version', p_flow->'version', 1, 2147483647),
            django_pgflow.check_whole('flow max_attempts', p_flow->'max_attempts', 1, 1000000),
            django_pgflow.check_seconds('flow base_delay', (p_flow->>'base_delay')::float8),
            django_pgflow.check_seconds('flow timeout', (p_flow->>'timeout')::float8, false);
    PERFORM django_pgflow.check_flow_step(s.step, s.ord)
    FROM jsonb_array_elements(p_flow->'steps') WITH ORDINALITY AS s(step, ord);
    -- The steps come in a topological order: a step depends only on steps
    -- before it, so the graph has no cycle. A map step has one source at most.
    WITH steps AS (
        SELECT s.step->>'slug' AS slug, s.step->>'step_type' AS kind, s.ord
        FROM jsonb_array_elements(p_flow->'steps') WITH ORDINALITY AS s(step, ord)
    ), deps AS (
        SELECT d.dep->>0 AS step_slug, d.dep->>1 AS dep_slug, jsonb_typeof(d.dep) AS t, jsonb_array_length(
                   CASE WHEN jsonb_typeof(d.dep) = 'array' THEN d.dep ELSE '[]' END) AS n
        FROM jsonb_array_elements(p_flow->'deps') AS d(dep)
    )
    SELECT coalesce(
        (SELECT format('step %s is defined twice', slug) FROM steps GROUP BY slug HAVING count(*) > 1 LIMIT 1),
        (SELECT 'each dependency is a [step, depends_on] pair' FROM deps WHERE t <> 'array' OR n <> 2 LIMIT 1),
        (SELECT format('%s depends on %s, which is not an earlier step', d.step_slug, d.dep_slug)
         FROM deps d LEFT JOIN steps s ON s.slug = d.step_slug LEFT JOIN steps p ON p.slug = d.dep_slug
         WHERE s.ord IS NULL OR p.ord IS NULL OR p.ord >= s.ord LIMIT 1),
        (SELECT format('map step %s has more than one dependency', s.slug)
         FROM steps s JOIN deps d ON d.step_slug = s.slug WHERE s.kind = 'map'
         GROUP BY s.slug HAVING count(*) > 1 LIMIT 1))
    INTO v_problem;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION 'pgflow: flow %: %', p_flow->>'slug', v_problem
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_flow(jsonb) IS
'Raises invalid_parameter_value when a sync_flow() definition is malformed: bad slugs or options (check_flow_step), a step defined twice, a dependency on a step that is not earlier in the list (which rules out cycles), a map step with two sources.';

-- The step rows of a definition, with what the SQL core derives itself (the
-- index, the dependency count, leaves) rather than takes on trust.
CREATE OR REPLACE FUNCTION django_pgflow.insert_flow_steps(p_flow_id bigint, p_flow jsonb)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path FROM CURRENT
AS $$
    INSERT INTO pgflow_step (
        flow_id, slug, index, step_type, dep_count, is_leaf, max_attempts, base_delay, timeout,
        start_delay, queue, priority, on_failure, condition, on_condition_false, resources)
    SELECT p_flow_id, s.step->>'slug', (s.ord - 1)::integer, s.step->>'step_type',
           (SELECT count(*) FROM jsonb_array_elements(p_flow->'deps') d WHERE d->>0 = s.step->>'slug'),
           NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_flow->'deps') d WHERE d->>1 = s.step->>'slug'),
           (s.step->>'max_attempts')::integer, (s.step->>'base_delay')::float8,
           (s.step->>'timeout')::float8, (s.step->>'start_delay')::float8, s.step->>'queue',
           (s.step->>'priority')::integer, s.step->>'on_failure',
           nullif(s.step->'condition', 'null'), s.step->>'on_condition_false',
           django_pgflow.check_resources(s.step->'resources')
    FROM jsonb_array_elements(p_flow->'steps') WITH ORDINALITY AS s(step, ord);
    INSERT INTO pgflow_step_dep (flow_id, step_slug, dep_slug)
    SELECT DISTINCT p_flow_id, d->>0, d->>1 FROM jsonb_array_elements(p_flow->'deps') d;
$$;

COMMENT ON FUNCTION django_pgflow.insert_flow_steps(bigint, jsonb) IS
'Inserts the steps and dependencies of a checked sync_flow() definition for flow version p_flow_id, deriving index, dep_count and is_leaf.';

CREATE OR REPLACE FUNCTION django_pgflow.sync_flow(p_flow jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_flow pgflow_flow;
    v_same_shape boolean;
BEGIN
    PERFORM django_pgflow.check_flow(p_flow);
    -- Two processes syncing at once (migrate and a worker) take turns.
    PERFORM pg_advisory_xact_lock(hashtext('django_pgflow.sync_flows'));
    SELECT * INTO v_flow FROM pgflow_flow
    WHERE slug = p_flow->>'slug' AND version = (p_flow->>'version')::integer;
    IF NOT FOUND THEN
        INSERT INTO pgflow_flow (slug, version, shape_hash, max_attempts, base_delay, timeout, created_at)
        VALUES (p_flow->>'slug', (p_flow->>'version')::integer, coalesce(p_flow->>'shape_hash', ''),
                (p_flow->>'max_attempts')::integer, (p_flow->>'base_delay')::float8,
                (p_flow->>'timeout')::float8, now())
        RETURNING * INTO v_flow;
        PERFORM django_pgflow.insert_flow_steps(v_flow.id, p_flow);
        RETURN format('%s v%s created', v_flow.slug, v_flow.version);
    END IF;

    -- The shape is the graph: steps, their kind, their dependencies.
    v_same_shape := (SELECT array_agg(s.slug || ':' || s.step_type ORDER BY s.slug) FROM pgflow_step s WHERE s.flow_id = v_flow.id)
                    = (SELECT array_agg((e->>'slug') || ':' || (e->>'step_type') ORDER BY e->>'slug') FROM jsonb_array_elements(p_flow->'steps') e)
                AND (SELECT coalesce(array_agg(d.step_slug || '<' || d.dep_slug ORDER BY d.step_slug || '<' || d.dep_slug), '{}')
                     FROM pgflow_step_dep d WHERE d.flow_id = v_flow.id)
                    = (SELECT coalesce(array_agg(DISTINCT (e->>0) || '<' || (e->>1)), '{}')
                       FROM jsonb_array_elements(p_flow->'deps') e);
    IF NOT v_same_shape AND EXISTS (SELECT 1 FROM pgflow_run r WHERE r.flow_id = v_flow.id) THEN
        RAISE EXCEPTION 'pgflow: flow % version % already has runs and its shape changed: declare version = % (runs in flight finish on version %).',
                quote_literal(v_flow.slug), v_flow.version, v_flow.version + 1, v_flow.version
            USING ERRCODE = 'object_in_use';
    END IF;
    RETURN django_pgflow.update_flow(v_flow, p_flow, v_same_shape);
END;
$$;

COMMENT ON FUNCTION django_pgflow.sync_flow(jsonb) IS
'Writes one version of a flow definition ({"slug", "version", "max_attempts", "base_delay", "timeout", "shape_hash", "steps": [...in topological order], "deps": [[step, depends_on], ...]}) after check_flow(): creates it, updates its options in place when its graph is unchanged, replaces it when it has no runs yet; refuses (object_in_use) a changed graph under runs. Returns what changed, or NULL.';

CREATE OR REPLACE FUNCTION django_pgflow.update_flow(p_old pgflow_flow, p_flow jsonb, p_same_shape boolean)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_changed integer;
BEGIN
    UPDATE pgflow_flow SET shape_hash = coalesce(p_flow->>'shape_hash', ''),
        max_attempts = (p_flow->>'max_attempts')::integer, base_delay = (p_flow->>'base_delay')::float8,
        timeout = (p_flow->>'timeout')::float8
    WHERE id = p_old.id
      AND (shape_hash, max_attempts, base_delay, timeout) IS DISTINCT FROM
          (coalesce(p_flow->>'shape_hash', ''), (p_flow->>'max_attempts')::integer,
           (p_flow->>'base_delay')::float8, (p_flow->>'timeout')::float8);
    GET DIAGNOSTICS v_changed = ROW_COUNT;
    IF NOT p_same_shape THEN
        -- No run has seen this version: its steps can be written again.
        DELETE FROM pgflow_step_dep WHERE flow_id = p_old.id;
        DELETE FROM pgflow_step WHERE flow_id = p_old.id;
        PERFORM django_pgflow.insert_flow_steps(p_old.id, p_flow);
        RETURN format('%s v%s replaced (it had no runs)', p_old.slug, p_old.version);
    END IF;
    -- The same graph: options change in place (step states point at these
    -- rows); runs in flight pick them up for the steps they have yet to start.
    UPDATE pgflow_step s
    SET index = (n.ord - 1)::integer, max_attempts = (n.step->>'max_attempts')::integer,
        base_delay = (n.step->>'base_delay')::float8, timeout = (n.step->>'timeout')::float8,
        start_delay = (n.step->>'start_delay')::float8, queue = n.step->>'queue',
        priority = (n.step->>'priority')::integer, on_failure = n.step->>'on_failure',
        condition = nullif(n.step->'condition', 'null'), on_condition_false = n.step->>'on_condition_false',
        resources = django_pgflow.check_resources(n.step->'resources')
    FROM jsonb_array_elements(p_flow->'steps') WITH ORDINALITY AS n(step, ord)
    WHERE s.flow_id = p_old.id AND s.slug = n.step->>'slug'
      AND (s.index, s.max_attempts, s.base_delay, s.timeout, s.start_delay, s.queue, s.priority,
           s.on_failure, s.condition, s.on_condition_false, s.resources)
          IS DISTINCT FROM
          ((n.ord - 1)::integer, (n.step->>'max_attempts')::integer, (n.step->>'base_delay')::float8,
           (n.step->>'timeout')::float8, (n.step->>'start_delay')::float8, n.step->>'queue',
           (n.step->>'priority')::smallint, n.step->>'on_failure', nullif(n.step->'condition', 'null'),
           n.step->>'on_condition_false', django_pgflow.check_resources(n.step->'resources'));
    IF v_changed + (CASE WHEN FOUND THEN 1 ELSE 0 END) > 0 THEN
        RETURN format('%s v%s options updated', p_old.slug, p_old.version);
    END IF;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION django_pgflow.update_flow(pgflow_flow, jsonb, boolean) IS
'sync_flow()''s update of an existing version: options in place when the graph is the same (returns NULL when nothing changed), the whole definition again otherwise.';
