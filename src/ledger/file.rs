//! The ledger file itself, before SQLite sees it: its lock (one run at a time), a look at its
//! header (a damaged or foreign file is refused as it is), and creating it private.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::LedgerError;

/// One run per ledger: an exclusive lock on `LEDGER.lock`, released by the OS when the process
/// ends however it ends, so a `kill -9` never leaves a stale lock behind.
pub(super) fn take_lock(path: &Path) -> Result<File, LedgerError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let io = |source| LedgerError::Io {
        path: lock_path.clone(),
        source,
    };
    let file = open_private(&lock_path, false).map_err(io)?;
    // `runs` holds a shared lock for an instant to see whether a run is live (`lock_holder`):
    // a run starting in that instant waits it out instead of calling the ledger in use.
    let mut tries = 0;
    let locked = loop {
        match file.try_lock() {
            Err(std::fs::TryLockError::WouldBlock) if tries < 10 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => break other,
        }
    };
    match locked {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&lock_path)
                .map(|s| s.trim().to_string())
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "a run that is starting".into());
            Err(LedgerError::InUse {
                path: path.to_path_buf(),
                holder,
            })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

/// Whether a run holds the ledger's lock right now, and what it wrote there ("run N, pid P,
/// started T", or nothing yet while it starts). Takes a shared lock for an instant, never
/// waits, and creates nothing: without a lock file, no run ever held it.
pub(super) fn lock_holder(path: &Path) -> std::io::Result<Option<String>> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let file = match File::open(&lock_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match file.try_lock_shared() {
        Ok(()) => {
            file.unlock()?;
            Ok(None)
        }
        Err(std::fs::TryLockError::WouldBlock) => Ok(Some(
            std::fs::read_to_string(&lock_path)
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Looks at a ledger file's header before SQLite opens it: a file that is not a SQLite
/// database, or is shorter than its header says (cut short by a full disk or a partial copy),
/// is refused as it is. A missing or empty file is a new ledger.
pub(super) fn check_file(path: &Path) -> Result<(), LedgerError> {
    use std::io::Read;
    let corrupt = |problem: String| LedgerError::Corrupt {
        path: path.to_path_buf(),
        problem,
    };
    let io = |source| LedgerError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    let len = file.metadata().map_err(io)?.len();
    if len == 0 {
        return Ok(());
    }
    let mut header = Vec::with_capacity(100);
    (&mut file).take(100).read_to_end(&mut header).map_err(io)?;
    if header.len() < 100 || !header.starts_with(b"SQLite format 3\0") {
        return Err(corrupt(
            "is not a payimport ledger: it is not a SQLite database (it may be damaged, or another file)".into(),
        ));
    }
    let be32 = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    // The page count in the header is trusted only when its change counter matches (SQLite's
    // own rule); a WAL with frames in it may hold pages the file does not have yet.
    let pages = u64::from(be32(28));
    let wal_frames = std::fs::metadata(format!("{}-wal", path.display())).map_or(0, |m| m.len());
    if be32(24) == be32(92) && wal_frames == 0 && len < pages * page_size {
        return Err(corrupt(format!(
            "is truncated: its header gives {pages} pages of {page_size} bytes ({} bytes), the file holds {len}",
            pages * page_size
        )));
    }
    Ok(())
}

/// Creates the ledger file readable by its owner only: it holds borrowers' payment data.
pub(super) fn create_private(path: &Path) -> std::io::Result<()> {
    if !path.exists() {
        open_private(path, false)?;
    }
    Ok(())
}

fn open_private(path: &Path, truncate: bool) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}
