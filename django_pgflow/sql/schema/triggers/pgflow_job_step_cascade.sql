-- A step job that changed status moves its run on, in the same transaction.
PERFORM django_pgflow.on_step_job(NEW.run_id, NEW.step_slug, NEW.task_index, NEW.id, NEW.status,
                                  NEW.attempts, NEW.result, NEW.errors);
RETURN NULL;
