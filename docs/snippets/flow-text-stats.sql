-- text_stats: words (the run input's text, split) -> length (a map: one task
-- per word) -> summary (both). Each step's jobs go to the queue text_stats,
-- which docs/examples/sql_worker.py serves.
SELECT django_pgflow.create_flow('text_stats', p_max_attempts => 2);
SELECT django_pgflow.add_step('text_stats', 'words', p_queue => 'text_stats');
SELECT django_pgflow.add_step('text_stats', 'length', ARRAY['words'],
                              p_step_type => 'map', p_queue => 'text_stats');
SELECT django_pgflow.add_step('text_stats', 'summary', ARRAY['words', 'length'],
                              p_queue => 'text_stats');
