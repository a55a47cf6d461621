-- A job back in the queue is gated or not as its queue's limits are now.
NEW.gated := django_pgflow.gated(NEW.resources, NEW.lock_key,
                                 EXISTS (SELECT 1 FROM pgflow_queue_limit l WHERE l.queue = NEW.queue));
RETURN NEW;
