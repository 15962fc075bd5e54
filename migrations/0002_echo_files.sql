-- A file byte-for-byte identical to one imported before, read with the same settings, whose
-- payments were all posted, is recorded as that file's echo instead of row by row: the report
-- shows its rows as `already_posted` from the original's. A nightly job that brings the same
-- file again then costs a hash of the file, and the ledger does not grow by a copy of it.

-- The file a row came from (NULL for rows staged before this migration).
ALTER TABLE rows ADD COLUMN file_id INTEGER;
-- SHA-256 of the file's bytes and of the settings that read it (NULL for refused files).
ALTER TABLE files ADD COLUMN fingerprint TEXT;
-- The file this one is an echo of: its rows are that file's, each `already_posted`.
ALTER TABLE files ADD COLUMN echo_of INTEGER REFERENCES files(id);
-- The file's rows are the ids first_row..=last_row (staged in one transaction, one run at a
-- time), and cents is the sum of their amounts.
ALTER TABLE files ADD COLUMN first_row INTEGER;
ALTER TABLE files ADD COLUMN last_row INTEGER;
ALTER TABLE files ADD COLUMN cents INTEGER;

-- Finds a file's rows in a given state without reading them (is every payment of it posted?).
CREATE INDEX rows_by_file_status ON rows(file_id, status);
CREATE INDEX files_by_fingerprint ON files(fingerprint) WHERE fingerprint IS NOT NULL;
