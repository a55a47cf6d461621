CREATE OR REPLACE FUNCTION django_pgflow.queue_compensation(p_run_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_run pgflow_run;
    v_flow pgflow_flow;
    v_job bigint;
BEGIN
    SELECT * INTO v_run FROM pgflow_run WHERE id = p_run_id;
    SELECT * INTO v_flow FROM pgflow_flow WHERE id = v_run.flow_id;
    IF v_flow.compensation_queue IS NULL THEN
        RETURN NULL;
    END IF;
    -- Saga-style: one job, which the run's worker resolves to the Flow's
    -- compensation handler, with what it needs to undo external effects. It
    -- belongs to the run (run_id) but to no step, so nobody can enqueue one.
    INSERT INTO pgflow_job (
        queue, task_name, args, kwargs, status, priority, run_at, attempts, failures, max_attempts,
        retry_delay, max_retry_delay, timeout, errors, created_at, run_id, metadata, gated
    ) VALUES (
        v_flow.compensation_queue, 'pgflow.compensate.' || v_flow.slug,
        jsonb_build_array(jsonb_build_object(
            'run_id', v_run.id, 'flow', v_flow.slug, 'status', v_run.status, 'input', v_run.input,
            'error', v_run.error, 'failed_step', v_run.error->>'step',
            'outputs', (SELECT coalesce(jsonb_object_agg(st.step_slug, st.output), '{}'::jsonb)
                        FROM pgflow_step_state st WHERE st.run_id = v_run.id AND st.status = 'completed'))),
        '{}', 'queued', 0, now(), 0, 0, v_flow.max_attempts, v_flow.base_delay, 3600, v_flow.timeout,
        '[]', now(), v_run.id, v_run.metadata,
        django_pgflow.gated(NULL, NULL, EXISTS (SELECT 1 FROM pgflow_queue_limit l
                                                WHERE l.queue = v_flow.compensation_queue))
    ) RETURNING id INTO v_job;
    RETURN v_job;
END;
$$;

COMMENT ON FUNCTION django_pgflow.queue_compensation(bigint) IS
'When a run failed or was cancelled and its flow declares a compensation handler (pgflow_flow.compensation_queue): queues one job for it, whose one argument holds the run id, flow, status, input, error, failed step and the outputs of the steps that completed. Returns the job id, or NULL.';

REVOKE EXECUTE ON FUNCTION django_pgflow.queue_compensation(bigint) FROM PUBLIC;
