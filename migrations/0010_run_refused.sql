-- A fourth way for a run to end: `refused`, when a file of it was refused whole (missing,
-- unreadable, a structure that cannot be followed, an enforced control total that disagrees):
-- nothing of that file was staged or sent, and the command exited 2. Such a run used to be
-- `completed`, which `payimport runs` then listed like a good night.
--
-- SQLite cannot change a CHECK, and rebuilding `runs` would trip the foreign keys of `files`,
-- `rows` and `returns` on it; a column's own CHECK goes with the column, so the column is
-- replaced: added with the new list, filled, the old one dropped, the new one renamed.
-- Earlier runs keep their outcome (whether a file of theirs was refused is in `files`).
ALTER TABLE runs ADD COLUMN ended_as TEXT
    CHECK (ended_as IN ('completed', 'stopped', 'interrupted', 'refused'));
UPDATE runs SET ended_as = outcome;
ALTER TABLE runs DROP COLUMN outcome;
ALTER TABLE runs RENAME COLUMN ended_as TO outcome;
