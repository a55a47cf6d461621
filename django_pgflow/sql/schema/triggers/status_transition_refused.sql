-- Runs only when a trigger's WHEN clause found the change of status illegal
-- (models/fsm.py writes the legal transitions there): it refuses it.
RAISE EXCEPTION 'pgflow: invalid status transition % -> % on table %', OLD.status, NEW.status, TG_TABLE_NAME
    USING ERRCODE = 'check_violation';
RETURN NULL;
