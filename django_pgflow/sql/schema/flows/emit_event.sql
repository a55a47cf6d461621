CREATE OR REPLACE FUNCTION django_pgflow.emit_event(p_run_id bigint, p_step_slug text, p_status text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_event pgflow_event;
BEGIN
    -- Called by the triggers on pgflow_run and pgflow_step_state, in the
    -- transaction that changes the status: an event exists, and is
    -- delivered (NOTIFY waits for the commit), only if the change commits.
    -- pgflow.origin is set by the session that makes the change (a worker's
    -- connections: its id), so that only that process sends Django signals.
    INSERT INTO pgflow_event (run_id, flow_slug, step_slug, status, origin, at)
    SELECT p_run_id, r.flow_slug, p_step_slug, p_status,
           nullif(current_setting('pgflow.origin', true), ''), clock_timestamp()
    FROM pgflow_run r WHERE r.id = p_run_id
    RETURNING * INTO v_event;
    PERFORM pg_notify('django_pgflow_events', json_build_object(
        'id', v_event.id, 'run_id', v_event.run_id, 'flow', v_event.flow_slug,
        'step', v_event.step_slug, 'status', v_event.status, 'at', v_event.at,
        'origin', v_event.origin)::text);
END;
$$;

COMMENT ON FUNCTION django_pgflow.emit_event(bigint, text, text) IS
'Records a run or step status change in pgflow_event and announces it on the channel django_pgflow_events with {"id", "run_id", "flow", "step" (NULL for the run), "status", "at", "origin"}; delivered at commit, never for a change that rolled back.';

REVOKE EXECUTE ON FUNCTION django_pgflow.emit_event(bigint, text, text) FROM PUBLIC;
