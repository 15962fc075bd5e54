//! The one LoanPro tenant a ledger belongs to (docs/states.md, migration 0004): recorded at the first
//! `import` or `retry`, compared at every later one.

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::OptionalExtension;

use super::{Ledger, LedgerError, now, sql};

/// A ledger used with settings of another tenant or base URL than the one it records.
#[derive(Debug)]
pub struct OtherTenant {
    pub path: PathBuf,
    /// The settings file that names the other tenant.
    pub settings: PathBuf,
    pub recorded_tenant: String,
    pub recorded_url: String,
    pub recorded_at: String,
    pub tenant: String,
    pub url: String,
}

impl fmt::Display for OtherTenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ledger {} belongs to LoanPro tenant {:?} at {} (recorded {}), but the settings {} name tenant {:?} at {}; its keys say which payments that tenant holds, not this one: give this tenant its own ledger (`[ledger] path` or --ledger). Nothing was staged or sent",
            self.path.display(),
            self.recorded_tenant,
            self.recorded_url,
            self.recorded_at,
            self.settings.display(),
            self.tenant,
            self.url
        )
    }
}

impl Ledger {
    /// Records `tenant_id` and `base_url` as the ledger's tenant if it has none yet (a new
    /// ledger, or one from before migration 0004), else checks they are the ones recorded.
    /// Both come as the settings normalise them (`LoanPro::ledger_tenant_id`,
    /// `LoanPro::ledger_base_url`); `settings` is only named in the error.
    ///
    /// Called with the ledger's lock held and before anything else of the run is written, so
    /// another tenant's run changes nothing, not even the recovery of an interrupted run.
    pub fn bind_tenant(
        &mut self,
        tenant_id: &str,
        base_url: &str,
        settings: &Path,
    ) -> Result<(), LedgerError> {
        let err = sql(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        let recorded: Option<(String, String, String)> = tx
            .query_row(
                "SELECT tenant_id, base_url, recorded_at FROM ledger_tenant WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(&err)?;
        match recorded {
            None => {
                tx.execute(
                    "INSERT INTO ledger_tenant (id, tenant_id, base_url, recorded_at) VALUES (1, ?1, ?2, ?3)",
                    (tenant_id, base_url, now()),
                )
                .map_err(&err)?;
                tx.commit().map_err(&err)?;
                tracing::info!(
                    tenant_id,
                    base_url,
                    "the ledger now belongs to this LoanPro tenant"
                );
                Ok(())
            }
            Some((t, u, _)) if t == tenant_id && u == base_url => Ok(()),
            Some((recorded_tenant, recorded_url, recorded_at)) => {
                Err(LedgerError::OtherTenant(Box::new(OtherTenant {
                    path: self.path.clone(),
                    settings: settings.to_path_buf(),
                    recorded_tenant,
                    recorded_url,
                    recorded_at,
                    tenant: tenant_id.to_string(),
                    url: base_url.to_string(),
                })))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rusqlite::Connection;

    use super::*;
    use crate::ledger::migrate::MIGRATIONS;

    const URL: &str = "https://lp.example/api/public/api/1";

    #[test]
    fn the_first_tenant_is_recorded_and_another_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        let settings = Path::new("/etc/payimport/b.toml");
        let mut ledger = Ledger::open(&path).unwrap();
        ledger.bind_tenant("5200243", URL, settings).unwrap();
        ledger.bind_tenant("5200243", URL, settings).unwrap();
        drop(ledger);

        let mut ledger = Ledger::open(&path).unwrap();
        let e = ledger.bind_tenant("42", URL, settings).unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, LedgerError::OtherTenant(_)), "{m}");
        assert!(
            m.contains(&format!(
                "belongs to LoanPro tenant \"5200243\" at {URL} (recorded "
            )) && m.contains(&format!(
                "but the settings /etc/payimport/b.toml name tenant \"42\" at {URL};"
            )),
            "{m}"
        );
        let e = ledger
            .bind_tenant("5200243", "http://127.0.0.1:8080/api", settings)
            .unwrap_err();
        assert!(
            e.to_string().contains("at http://127.0.0.1:8080/api;"),
            "{e}"
        );
        // Refusing wrote nothing: the first tenant still owns it.
        ledger.bind_tenant("5200243", URL, settings).unwrap();
    }

    #[test]
    fn a_ledger_from_before_0004_adopts_its_next_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA journal_mode=WAL;").unwrap();
            for (i, m) in MIGRATIONS[..3].iter().enumerate() {
                conn.execute_batch(m).unwrap();
                conn.pragma_update(None, "user_version", i as i64 + 1)
                    .unwrap();
            }
        }
        let settings = Path::new("a.toml");
        let mut ledger = Ledger::open(&path).unwrap();
        ledger.bind_tenant("7", URL, settings).unwrap();
        assert!(ledger.bind_tenant("8", URL, settings).is_err());
    }
}
