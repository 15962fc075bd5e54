-- How each run ended, so `payimport runs` never leaves one "(not ended)": `completed` (it sent
-- what it could and ended), `stopped` (it stopped itself: LoanPro refused the credentials or
-- answered with a redirect), `interrupted` (a signal stopped it, or it was killed or crashed,
-- which the next run finds when it opens the ledger). NULL while the run is running.
ALTER TABLE runs ADD COLUMN outcome TEXT CHECK (outcome IN ('completed', 'stopped', 'interrupted'));

-- Runs ended before this migration ran to their end; whether one stopped itself early was not
-- recorded, so they count as completed.
UPDATE runs SET outcome = 'completed' WHERE ended_at IS NOT NULL;

-- Runs never ended were killed or crashed: migrations run under the ledger's lock, so none of
-- them is running. They end at the time of their last recorded row before the next run started
-- (a later run's read-backs touch their rows too), else when they started.
UPDATE runs SET outcome = 'interrupted', ended_at = COALESCE(
    (SELECT MAX(r.updated_at) FROM rows AS r
     WHERE (r.run_id = runs.id OR r.sent_by_run = runs.id)
       AND r.updated_at < COALESCE(
           (SELECT MIN(later.started_at) FROM runs AS later WHERE later.id > runs.id), '9999')),
    started_at)
WHERE ended_at IS NULL;
