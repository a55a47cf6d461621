-- A step started, completed, failed, was skipped or cancelled (back to
-- created on a resume is no event of its own: the run's started says it).
PERFORM django_pgflow.emit_event(NEW.run_id, NEW.step_slug, NEW.status);
RETURN NULL;
