CREATE OR REPLACE FUNCTION django_pgflow.step_task_name(p_flow_slug text, p_step_slug text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path FROM CURRENT
AS $$
    SELECT 'pgflow.step.' || p_flow_slug || '.' || p_step_slug;
$$;

COMMENT ON FUNCTION django_pgflow.step_task_name(text, text) IS
'The task name a step''s jobs carry, which workers resolve to the Flow method.';

REVOKE EXECUTE ON FUNCTION django_pgflow.step_task_name(text,text) FROM PUBLIC;
