-- A hint on the case that the non-reporting rule raised an alert that may still be open. An
-- answer resolves such an alert; with the hint, the morning's thousands of answers look for
-- one only where the sweep raised one, instead of reading the alerts table each time (under
-- SERIALIZABLE, a read that every answer makes and some alerts write into is a conflict).
-- Set by the sweep with the alert, cleared by the answer that looked; a hint left set by a
-- resolution elsewhere costs that one extra look. Cases that exist when this runs start with
-- the hint set (each looks once), so no data needs to be migrated; new cases start without.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS silence_alerted BOOL NOT NULL DEFAULT TRUE;

ALTER TABLE cases ALTER COLUMN silence_alerted SET DEFAULT FALSE;
