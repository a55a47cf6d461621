-- A run started (inserted, or resumed), completed, failed or was cancelled.
PERFORM django_pgflow.emit_event(NEW.id, NULL, NEW.status);
RETURN NULL;
