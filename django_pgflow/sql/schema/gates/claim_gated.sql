-- Slots are read through pgflow_slot_state: its held column says whether the
-- attempt a slot was given to still runs.
CREATE OR REPLACE FUNCTION django_pgflow.claim_gated(
    p_queues text[], p_limit integer, OUT ids bigint[], OUT started_at timestamptz
)
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- Called by claim() only, whose SET enable_* / jit / plan_cache_mode hold here
-- and in the parts it calls. The row estimates of unnest() and
-- jsonb_each_text() are a hundred times the batch: without these, the slot
-- UPDATE (give_slots) hashes the whole slot table rather than look up the
-- few slots it gives out by key, and every call sizes hash tables for
-- thousands of rows.
SET enable_hashjoin = off
SET enable_mergejoin = off
SET enable_hashagg = off
SET enable_memoize = off
AS $$
DECLARE
    v_all boolean := p_queues IS NULL OR cardinality(p_queues) = 0;
    -- A worker of one queue reads pgflow_job_gated_queue_idx, never the
    -- gated backlog of other queues.
    v_one text := CASE WHEN cardinality(p_queues) = 1 THEN p_queues[1] END;
    v_capped text[];            -- queues served here that have a concurrency cap
    v_rated text[];             -- ... and a rate limit
    v_closed text[];            -- queues with nothing more for this claim
    v_taken record;             -- take_gated()'s jobs
BEGIN
    -- The common case: nothing gated is ready in these queues (one probe of
    -- an index that holds only gated jobs). The limited queues are listed in
    -- the same statement, only when something is. A rated queue is open
    -- unless all its shards are spent (read without locks): its jobs are
    -- taken as if it were, and their starts reserved, or the jobs dropped,
    -- at the end.
    SELECT CASE WHEN r.ready THEN ARRAY(
               SELECT l.queue::text FROM pgflow_queue_limit l
               WHERE (v_all OR l.queue = ANY (p_queues)) AND l.concurrency IS NOT NULL) END,
           CASE WHEN r.ready THEN ARRAY(
               SELECT l.queue::text FROM pgflow_queue_limit l
               WHERE (v_all OR l.queue = ANY (p_queues)) AND l.rate_count IS NOT NULL) END,
           CASE WHEN r.ready THEN ARRAY(
               SELECT l.queue::text FROM pgflow_queue_limit l
               WHERE (v_all OR l.queue = ANY (p_queues)) AND l.rate_count IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM pgflow_queue_rate_shard h
                                 WHERE h.queue = l.queue
                                   AND (h.full_until IS NULL OR h.full_until <= clock_timestamp()))) END
    INTO v_capped, v_rated, v_closed
    FROM (SELECT CASE WHEN v_one IS NULL THEN EXISTS (
                     SELECT 1 FROM pgflow_job j
                     WHERE j.status = 'queued' AND j.gated AND j.impossible IS NULL AND j.run_at <= now()
                       AND (v_all OR j.queue = ANY (p_queues)))
                 ELSE EXISTS (
                     SELECT 1 FROM pgflow_job j
                     WHERE j.status = 'queued' AND j.gated AND j.impossible IS NULL AND j.queue = v_one
                       AND j.run_at <= now())
                 END AS ready) r;
    IF v_capped IS NULL THEN
        ids := '{}';
        RETURN;
    END IF;

    v_taken := django_pgflow.take_gated(p_queues, p_limit, v_one, v_capped, v_rated, v_closed);

    -- Jobs and slots locked here but not taken stay locked until this claim
    -- commits: other claims skip them, which only delays them to the next
    -- wake-up or poll.

    -- The start time to record, read after every check above: later than any
    -- finish those checks saw committed, so the recorded intervals of one
    -- slot never overlap. Rate windows are counted at this same time.
    started_at := clock_timestamp();
    ids := django_pgflow.reserve_rates(v_taken.taken, v_taken.rated_taken, v_taken.rated_queue, started_at);
END;
$$;

COMMENT ON FUNCTION django_pgflow.claim_gated(text[], integer) IS
'claim()''s gated path: picks up to p_limit ready gated jobs (that need resources, hold a lock key, or belong to a queue with limits), only while what they need is free: a free slot per unit of each resource and of the queue''s concurrency cap (given to the attempt about to start), no started or earlier queued job with the same lock key, starts left in the queue''s rate window. Every gate is a row locked FOR UPDATE SKIP LOCKED, so concurrent claims do not wait for each other. Returns the ids and the start time to record for them.';

REVOKE EXECUTE ON FUNCTION django_pgflow.claim_gated(text[], integer) FROM PUBLIC;
