//! Done and failed folders (docs/states.md, `import --archive DIR`): a file the run finished with
//! goes to `DIR/done/YYYY-MM-DD/`, a refused one to `DIR/failed/YYYY-MM-DD/`, after the run's
//! outcome is committed, by a rename on the same filesystem that never overwrites (a numbered
//! suffix: `bank.1.csv`). A crash before the move leaves the file where it was; the next run
//! finds it an echo of a file whose payments are all posted, and sends nothing.

use std::io;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

/// Where a file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Staged: every row is in the ledger, which sends or retries it from now on.
    Done,
    /// Refused by file-level validation: nothing of it was staged.
    Failed,
}

impl Outcome {
    fn folder(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Failed => "failed",
        }
    }
}

/// Moves `file` into `dir/done|failed/day/` under its own name, or the first numbered one free;
/// returns where it went. Never replaces a file: the new name is made as a hard link, which
/// fails if the name exists, and only then is the old name removed (a crash in between leaves
/// the file under both names, which the next run's echo detection makes harmless).
pub fn move_into(file: &Path, dir: &Path, outcome: Outcome, day: NaiveDate) -> io::Result<PathBuf> {
    let folder = dir
        .join(outcome.folder())
        .join(crate::payment::iso_date(day));
    std::fs::create_dir_all(&folder)?;
    let name = file
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let (stem, ext) = {
        let p = Path::new(name);
        (
            p.file_stem().unwrap_or(name).to_string_lossy().into_owned(),
            p.extension().map(|e| format!(".{}", e.to_string_lossy())),
        )
    };
    for n in 0u32.. {
        let target = if n == 0 {
            folder.join(name)
        } else {
            folder.join(format!("{stem}.{n}{}", ext.as_deref().unwrap_or("")))
        };
        match std::fs::hard_link(file, &target) {
            Ok(()) => {
                std::fs::remove_file(file)?;
                return Ok(target);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!("a free numbered name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_never_overwrite_and_number_the_second_file() {
        let tmp = tempfile::tempdir().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let archive = tmp.path().join("archive");
        let a = tmp.path().join("bank.csv");
        std::fs::write(&a, "first").unwrap();
        let first = move_into(&a, &archive, Outcome::Done, day).unwrap();
        assert_eq!(first, archive.join("done/2026-11-20/bank.csv"));
        assert!(!a.exists());
        std::fs::write(&a, "second").unwrap();
        let second = move_into(&a, &archive, Outcome::Done, day).unwrap();
        assert_eq!(second, archive.join("done/2026-11-20/bank.1.csv"));
        assert_eq!(std::fs::read_to_string(first).unwrap(), "first");
        assert_eq!(std::fs::read_to_string(second).unwrap(), "second");
        std::fs::write(&a, "refused").unwrap();
        let failed = move_into(&a, &archive, Outcome::Failed, day).unwrap();
        assert_eq!(failed, archive.join("failed/2026-11-20/bank.csv"));
        // A file that is not there is an error, and nothing is made of it.
        assert!(move_into(&a, &archive, Outcome::Done, day).is_err());
    }
}
