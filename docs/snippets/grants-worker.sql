-- The worker role: runworkers (claim, report, heartbeat, reap, prune,
-- periodic schedules, flow definitions, LISTEN), pgflow_prune and
-- pgflow_status. It acts through these functions only: it may read the
-- tables, never write them. Run as the role that ran `migrate`, with the
-- same search_path.
GRANT USAGE ON SCHEMA django_pgflow TO myapp_worker;
GRANT EXECUTE ON FUNCTION
    django_pgflow.register_worker(text, integer, jsonb, integer),
    -- Each worker connection holds its worker's liveness lock.
    django_pgflow.keep_alive(bigint),
    django_pgflow.heartbeat(bigint, float8),
    django_pgflow.claim(bigint, text[], integer, float8),
    django_pgflow.complete(bigint, bigint, integer, jsonb),
    django_pgflow.complete_many(bigint, bigint[], integer[], jsonb[], bigint[]),
    django_pgflow.complete_and_claim(bigint, text[], integer, float8, bigint[], integer[],
                                     jsonb[], bigint[]),
    django_pgflow.fail(bigint, bigint, integer, jsonb, boolean),
    django_pgflow.release(bigint, bigint[]),
    django_pgflow.release_unknown(bigint, bigint[]),
    django_pgflow.stop_worker(bigint),
    django_pgflow.worker_lost(bigint),
    django_pgflow.reap(float8),
    django_pgflow.prune(text, float8, integer),
    django_pgflow.prune_runs(text, float8, integer),
    django_pgflow.prune_workers(float8),
    django_pgflow.sync_flow(jsonb),
    django_pgflow.sync_periodic(text, text, text, text, jsonb, timestamptz, timestamptz),
    django_pgflow.enqueue_periodic(text, timestamptz, timestamptz),
    -- pgflow_contention (pgflow_status) counts rate windows with it.
    django_pgflow.rate_used(text, timestamptz),
    -- Tasks that enqueue jobs or start flows of their own.
    django_pgflow.enqueue(text, text, jsonb, jsonb, integer, timestamptz, float8,
                          integer, float8, float8, float8, text, jsonb, text, jsonb),
    django_pgflow.enqueue_many(jsonb),
    django_pgflow.enqueue_batch(jsonb, integer[], jsonb, jsonb, jsonb),
    django_pgflow.start_flow(text, jsonb, text, jsonb),
    django_pgflow.get_run_with_states(bigint),
    -- Flows defined in SQL by a service in another language.
    django_pgflow.create_flow(text, integer, float8, float8, integer),
    django_pgflow.add_step(text, text, text[], integer, float8, float8, float8, text, text,
                           integer, text, jsonb, jsonb, text, jsonb)
    TO myapp_worker;
-- Reading only: jobs, runs and workers (runworkers --burst, pgflow_status,
-- the supervisor), flow definitions and schedules (compared with the code
-- before anything is written), limits (compared with PGFLOW settings) and
-- contention (pgflow_status).
GRANT SELECT ON pgflow_job, pgflow_worker, pgflow_run, pgflow_step_state, pgflow_step_task,
                pgflow_flow, pgflow_step, pgflow_step_dep, pgflow_periodic,
                pgflow_resource, pgflow_queue_limit, pgflow_config, pgflow_contention,
                pgflow_event
    TO myapp_worker;
