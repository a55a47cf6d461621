CREATE OR REPLACE FUNCTION django_pgflow.complete_step_tasks(
    p_runs bigint[], p_steps text[], p_indexes integer[], p_outputs jsonb[]
)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- Called by complete_many(), whose SET enable_* / jit / plan_cache_mode hold
-- here, with the runs already locked in id order.
AS $$
DECLARE
    v_step record;
BEGIN
    -- The completed jobs' tasks of runs still going, in one statement; then
    -- each step's counter, once per step however many of its tasks finished
    -- (a counter updated once per task made a 10,000-task map's completions
    -- slower as the map grew: every update a new version of one row).
    FOR v_step IN
        WITH finished AS (
            UPDATE pgflow_step_task t
            SET status = 'completed', output = c.output, finished_at = now()
            FROM unnest(p_runs, p_steps, p_indexes, p_outputs) AS c(run_id, step_slug, task_index, output)
            JOIN pgflow_run r ON r.id = c.run_id AND r.status = 'started'
            WHERE t.run_id = c.run_id AND t.step_slug = c.step_slug AND t.task_index = c.task_index
              AND t.status IN ('queued', 'started')
            RETURNING t.run_id, t.step_slug, t.output
        ), counted AS (
            UPDATE pgflow_step_state st SET remaining_tasks = st.remaining_tasks - f.n
            FROM (SELECT run_id, step_slug, count(*)::integer AS n, (array_agg(output))[1] AS output
                  FROM finished GROUP BY run_id, step_slug) f
            WHERE st.run_id = f.run_id AND st.step_slug = f.step_slug AND st.status = 'started'
            RETURNING st.run_id, st.step_slug, st.step_id, st.remaining_tasks, f.output
        )
        SELECT c.run_id, c.step_slug, s.step_type, c.output
        FROM counted c JOIN pgflow_step s ON s.id = c.step_id
        WHERE c.remaining_tasks = 0
        ORDER BY c.run_id, s.index
    LOOP
        -- A step whose last task finished: a map's outputs aggregated once, in
        -- element order; a single step's one output as it is. The run may have
        -- ended meanwhile (an earlier step of this loop failed it).
        CONTINUE WHEN (SELECT status FROM pgflow_run WHERE id = v_step.run_id) <> 'started';
        PERFORM django_pgflow.complete_step(v_step.run_id, v_step.step_slug,
            CASE WHEN v_step.step_type = 'map' THEN (
                SELECT jsonb_agg(t.output ORDER BY t.task_index) FROM pgflow_step_task t
                WHERE t.run_id = v_step.run_id AND t.step_slug = v_step.step_slug)
            ELSE v_step.output END);
    END LOOP;
END;
$$;

COMMENT ON FUNCTION django_pgflow.complete_step_tasks(bigint[], text[], integer[], jsonb[]) IS
'complete_many()''s cascade for the step jobs it completed (parallel arrays: run, step, task index, output): completes their tasks in runs still started, decrements each step''s counter once, and completes the steps whose last task finished, in run and step order (which starts their dependents, and may complete the run).';

REVOKE EXECUTE ON FUNCTION django_pgflow.complete_step_tasks(bigint[], text[], integer[], jsonb[]) FROM PUBLIC;
