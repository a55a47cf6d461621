-- Flows defined in SQL, for services in other languages (pgflow's create_flow
-- and add_step): create the flow, then add its steps, each after the steps
-- it depends on, so that no cycle can be written. The checks are the DSL's
-- (check_flow_step).
CREATE OR REPLACE FUNCTION django_pgflow.create_flow(
    p_flow_slug text,
    p_max_attempts integer DEFAULT 3,
    p_base_delay float8 DEFAULT 1,
    p_timeout float8 DEFAULT 300,
    p_version integer DEFAULT 1
)
RETURNS pgflow_flow
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_flow pgflow_flow;
BEGIN
    PERFORM django_pgflow.check_flow(jsonb_build_object(
        'slug', p_flow_slug, 'version', p_version, 'max_attempts', p_max_attempts,
        'base_delay', p_base_delay, 'timeout', p_timeout, 'steps', '[]'::jsonb, 'deps', '[]'::jsonb), 0);
    INSERT INTO pgflow_flow (slug, version, shape_hash, max_attempts, base_delay, timeout, created_at)
    VALUES (p_flow_slug, p_version, 'sql', p_max_attempts, p_base_delay, p_timeout, now())
    ON CONFLICT (slug, version) DO NOTHING
    RETURNING * INTO v_flow;
    IF NOT FOUND THEN  -- defined before: that definition is the answer
        SELECT * INTO v_flow FROM pgflow_flow WHERE slug = p_flow_slug AND version = p_version;
    END IF;
    RETURN v_flow;
END;
$$;

COMMENT ON FUNCTION django_pgflow.create_flow(text, integer, float8, float8, integer) IS
'Creates version p_version of a flow defined in SQL, with its defaults for attempts, retry delay and timeout, and returns it; returns the existing one when that version exists (idempotent, like pgflow''s create_flow). Add its steps with add_step().';

REVOKE EXECUTE ON FUNCTION django_pgflow.create_flow(text, integer, float8, float8, integer) FROM PUBLIC;
