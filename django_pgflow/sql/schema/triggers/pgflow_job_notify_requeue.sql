-- A job back in the queue wakes the workers of its queue.
PERFORM pg_notify('django_pgflow', NEW.queue);
RETURN NULL;
