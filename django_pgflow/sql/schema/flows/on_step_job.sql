CREATE OR REPLACE FUNCTION django_pgflow.on_step_job(
    p_run_id bigint, p_step_slug text, p_task_index integer, p_job_id bigint,
    p_status text, p_attempts integer, p_result jsonb, p_errors jsonb
)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- Key lookups only: a table analyzed while small must not turn them into
-- sequential scans that grow with every run (invariant 7).
SET enable_seqscan = off
-- The disabled plan nodes above carry a huge cost on PostgreSQL <= 17, which
-- would make every call cross the JIT thresholds and compile (hundreds of ms).
SET jit = off
AS $$
DECLARE
    v_run_status text;
BEGIN
    IF p_step_slug IS NULL THEN
        RETURN;  -- a run's compensation job: it moves no step
    END IF;
    -- Claims ('started') and completions are mirrored set-based by claim()
    -- and complete_many(); the trigger calls this for every other change.
    IF p_status = 'queued' THEN
        -- A retry: mirror it, no cascade, no run lock.
        UPDATE pgflow_step_task SET status = p_status, attempts = p_attempts
        WHERE run_id = p_run_id AND step_slug = p_step_slug AND task_index = p_task_index
          AND job_id = p_job_id AND status IN ('queued', 'started');
        RETURN;
    END IF;

    -- Every cascade of a run locks its run row first: completions of one run
    -- are serialised, and callers of several runs lock them in id order.
    SELECT status INTO v_run_status FROM pgflow_run WHERE id = p_run_id FOR UPDATE;
    IF NOT FOUND OR v_run_status <> 'started' THEN
        RETURN;  -- the run ended (cancelled, failed): nothing to cascade
    ELSIF p_status = 'failed' THEN
        PERFORM django_pgflow.fail_step_task(p_run_id, p_step_slug, p_task_index,
                                      p_errors -> (jsonb_array_length(p_errors) - 1));
    ELSIF p_status = 'cancelled' THEN
        -- A step job cancelled on its own (not by a run or step ending) fails its task.
        PERFORM django_pgflow.fail_step_task(p_run_id, p_step_slug, p_task_index,
            jsonb_build_object('error', 'Cancelled', 'message', format('job %s was cancelled', p_job_id)));
    END IF;
END;
$$;

COMMENT ON FUNCTION django_pgflow.on_step_job(bigint, text, integer, bigint, text, integer, jsonb, jsonb) IS
'Called by a trigger when a step job is requeued, fails or is cancelled: mirrors it onto the step task and cascades final failures through the run, in the same transaction. (Claims and completions are mirrored set-based by claim() and complete_many().)';

REVOKE EXECUTE ON FUNCTION django_pgflow.on_step_job(bigint,text,integer,bigint,text,integer,jsonb,jsonb) FROM PUBLIC;
