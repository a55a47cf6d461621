-- Attempts are fencing tokens: they only ever grow.
RAISE EXCEPTION 'pgflow: attempts of job % cannot decrease (% -> %)', OLD.id, OLD.attempts, NEW.attempts;
RETURN NULL;
