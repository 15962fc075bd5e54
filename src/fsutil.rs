//! The one writer of every file payimport writes (docs/loanpro.md): the report's `--output`, the
//! metrics textfile, and whatever comes later.
//!
//! Only a regular file or a new path is written, by replacing it: the bytes go to a temporary
//! `.NAME.PID.tmp` in the same folder, created exclusively (never an existing file, never
//! through a symlink someone planted there), set to the promised mode whatever the umask,
//! synced, then renamed over the target, so a reader sees the old file or the whole new one.
//! A device, FIFO, socket or directory is refused and left as it is (run as root,
//! `--metrics-file /dev/null` would otherwise replace the system's `/dev/null`), and so is the
//! ledger or one of SQLite's files beside it, by any name, symlink or hard link.

use std::fs::{File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a file was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(
        "{option} {path} is the ledger {ledger} or one of its files; it was left as it is: write elsewhere"
    )]
    Ledger {
        option: String,
        path: String,
        ledger: String,
    },
    #[error(
        "{option} {path} is {kind}, not a regular file; it was left as it is (give a file path)"
    )]
    NotAFile {
        option: String,
        path: String,
        kind: &'static str,
    },
    #[error("{option} {path}: cannot {action}: {source}")]
    Io {
        option: String,
        path: String,
        action: &'static str,
        source: std::io::Error,
    },
}

/// A file to write: how the person named it (`--output`, `--metrics-file`, ...: messages say
/// it), where, with which mode, and the ledger it must never be.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub option: &'a str,
    pub path: &'a Path,
    /// The file's permissions, whatever the umask (0644 for what another user reads).
    pub mode: u32,
    pub ledger: Option<&'a Path>,
}

impl Target<'_> {
    fn io(&self, action: &'static str) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
        move |source| WriteError::Io {
            option: self.option.to_string(),
            path: self.path.display().to_string(),
            action,
            source,
        }
    }

    /// The path the file will replace (symlinks resolved), if it may be written at all:
    /// nothing is written when it is refused. Commands check before they start their work.
    pub fn check(&self) -> Result<PathBuf, WriteError> {
        let resolved = resolve(self.path).map_err(self.io("resolve the path"))?;
        let meta = match std::fs::metadata(&resolved) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.io("read the file's type")(e)),
        };
        if let Some(ledger) = self.ledger {
            let ledger = ledger
                .canonicalize()
                .unwrap_or_else(|_| ledger.to_path_buf());
            let companions = ["", "-wal", "-shm", "-journal", ".lock"].map(|suffix| {
                let mut p = ledger.clone().into_os_string();
                p.push(suffix);
                PathBuf::from(p)
            });
            let same_file = |p: &PathBuf| {
                meta.as_ref().is_some_and(|meta| {
                    std::fs::metadata(p)
                        .is_ok_and(|m| (m.dev(), m.ino()) == (meta.dev(), meta.ino()))
                })
            };
            if companions.contains(&resolved) || companions.iter().any(same_file) {
                return Err(WriteError::Ledger {
                    option: self.option.to_string(),
                    path: self.path.display().to_string(),
                    ledger: ledger.display().to_string(),
                });
            }
        }
        let Some(meta) = meta else {
            return Ok(resolved);
        };
        let t = meta.file_type();
        let kind = if t.is_file() {
            return Ok(resolved);
        } else if t.is_dir() {
            "a directory"
        } else if t.is_fifo() {
            "a FIFO (a special file)"
        } else if t.is_socket() {
            "a socket (a special file)"
        } else if t.is_char_device() || t.is_block_device() {
            "a device (a special file)"
        } else {
            "a special file"
        };
        Err(WriteError::NotAFile {
            option: self.option.to_string(),
            path: self.path.display().to_string(),
            kind,
        })
    }

    /// Replaces the file with what `write` writes, as this module says; on any error the
    /// file is as it was and no temporary file is left.
    pub fn write(
        &self,
        write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let path = self.check()?;
        let dir = path.parent().unwrap_or(Path::new("/"));
        let name = path
            .file_name()
            .ok_or_else(|| self.io("name a file")(std::io::ErrorKind::InvalidInput.into()))?
            .to_string_lossy();
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut file = match create_new(&tmp) {
            // Left by an earlier process of the same id, or planted: removing a name never
            // follows a symlink, and the second try is exclusive again.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(&tmp).and_then(|_| create_new(&tmp))
            }
            other => other,
        }
        .map_err(self.io("create its temporary file"))?;
        let result = (|| -> anyhow::Result<()> {
            file.set_permissions(Permissions::from_mode(self.mode))
                .map_err(self.io("set its mode"))?;
            write(&mut file)?;
            file.sync_all().map_err(self.io("write it"))?;
            std::fs::rename(&tmp, &path).map_err(self.io("replace it"))?;
            // The rename itself, durable.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// A new file, created exclusively: `O_CREAT | O_EXCL` fails on any existing name, a
/// symlink (dangling or not) included, so nothing is ever written through one.
fn create_new(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// The path with every symlink resolved; for a file not there yet, its folder resolved.
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    match path.canonicalize() {
        Ok(p) => Ok(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name = path.file_name().ok_or(e)?;
            Ok(dir.canonicalize()?.join(name))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target<'a>(path: &'a Path, ledger: Option<&'a Path>) -> Target<'a> {
        Target {
            option: "--out",
            path,
            mode: 0o644,
            ledger,
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_promised_mode_not_the_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.prom");
        target(&path, None)
            .write(|w| Ok(w.write_all(b"x 1\n")?))
            .unwrap();
        assert_eq!(mode(&path), 0o644);
        assert_eq!(std::fs::read(&path).unwrap(), b"x 1\n");
    }

    #[test]
    fn a_planted_temporary_symlink_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let path = dir.path().join("m.prom");
        let tmp = dir
            .path()
            .join(format!(".m.prom.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        target(&path, None)
            .write(|w| Ok(w.write_all(b"new")?))
            .unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert!(!tmp.exists() && std::fs::symlink_metadata(&tmp).is_err());
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        std::fs::write(&path, "old").unwrap();
        let e = target(&path, None)
            .write(|w| {
                w.write_all(b"half")?;
                anyhow::bail!("the ledger went away")
            })
            .unwrap_err();
        assert!(e.to_string().contains("went away"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn devices_fifos_sockets_directories_and_the_ledger_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("p");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let sock = dir.path().join("s");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let ledger = dir.path().join("ledger.sqlite");
        std::fs::write(&ledger, "db").unwrap();
        let wal = dir.path().join("ledger.sqlite-wal");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&ledger, &link).unwrap();
        for (path, says) in [
            (Path::new("/dev/null"), "a device"),
            (&fifo, "a FIFO"),
            (&sock, "a socket"),
            (dir.path(), "a directory"),
            (&ledger, "is the ledger"),
            (&wal, "is the ledger"),
            (&link, "is the ledger"),
        ] {
            // Checked only: were /dev/null not refused, a write would replace it.
            let e = target(path, Some(&ledger)).check().unwrap_err().to_string();
            assert!(
                e.contains(says) && e.contains(&path.display().to_string()),
                "{e}"
            );
        }
        // Writing checks first: the FIFO is refused, never opened (which would wait forever).
        let e = target(&fifo, None).write(|_| unreachable!()).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");
        assert!(
            std::fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
        assert_eq!(std::fs::read_to_string(&ledger).unwrap(), "db");
        assert!(!wal.exists());
    }
}
