-- Pruned or removed runs take their events with them, once per statement.
DELETE FROM pgflow_event e WHERE e.run_id IN (SELECT o.id FROM old_rows o);
RETURN NULL;
