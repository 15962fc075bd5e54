//! Which runs and files a report covers (docs/report.md): `--run ID`, `--since DATE [--until DATE]`
//! (runs started in the range), `--file NAME`; by default the last night.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::ledger::{Ledger, RunId, RunInfo};

/// What the user asked to see.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    pub run: Option<RunId>,
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub file: Option<String>,
}

impl Ask {
    /// Whether any selection was given (the row export of docs/report.md covers every run without).
    pub fn is_given(&self) -> bool {
        self.run.is_some() || self.since.is_some() || self.until.is_some() || self.file.is_some()
    }
}

/// The runs and file a report covers, and how to say so.
#[derive(Debug, Clone)]
pub struct Selection {
    pub runs: BTreeSet<RunId>,
    pub file: Option<String>,
    /// For titles: `run 4`, `runs started 2026-11-20 to 2026-11-21`, `last night (...)`.
    pub described: String,
    /// The options of `report` that select the same again (for "and N more: ..." hints).
    pub args: String,
}

impl Selection {
    /// Whether a row's file is in the selection.
    pub fn has_file(&self, path: &str) -> bool {
        match &self.file {
            None => true,
            Some(want) => {
                path == want
                    || std::path::Path::new(path)
                        .file_name()
                        .and_then(|n| n.to_str())
                        == Some(want.as_str())
            }
        }
    }
}

/// Resolves what was asked against the ledger's runs.
pub fn select(ledger: &Ledger, ask: &Ask) -> anyhow::Result<Selection> {
    let runs = ledger.runs()?;
    Ok(select_from(&runs, ask))
}

fn day(r: &RunInfo) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(r.started_at.get(..10)?, "%Y-%m-%d").ok()
}

fn select_from(runs: &[RunInfo], ask: &Ask) -> Selection {
    let (ids, described): (BTreeSet<RunId>, String) = if let Some(id) = ask.run {
        (
            runs.iter().filter(|r| r.id == id).map(|r| r.id).collect(),
            format!("run {id}"),
        )
    } else if ask.since.is_some() || ask.until.is_some() {
        let ids = runs
            .iter()
            .filter(|r| {
                day(r).is_some_and(|d| {
                    ask.since.is_none_or(|s| d >= s) && ask.until.is_none_or(|u| d <= u)
                })
            })
            .map(|r| r.id)
            .collect();
        let from = ask
            .since
            .map_or("the first run".to_string(), |d| d.to_string());
        let to = ask.until.map_or("now".to_string(), |d| d.to_string());
        (ids, format!("runs started {from} to {to}"))
    } else {
        // The last night: every run since the first run of the day before the last run's.
        match runs.iter().rev().find_map(day) {
            None => (BTreeSet::new(), "no run yet".to_string()),
            Some(last) => {
                let from = last.pred_opt().unwrap_or(last);
                let ids: BTreeSet<RunId> = runs
                    .iter()
                    .filter(|r| day(r).is_some_and(|d| d >= from))
                    .map(|r| r.id)
                    .collect();
                let described = match (ids.first(), ids.last()) {
                    (Some(a), Some(b)) if a != b => {
                        format!("the last night: runs {a} to {b} (started {from} or later)")
                    }
                    (Some(a), _) => format!("the last night: run {a} (started {from} or later)"),
                    _ => "no run yet".to_string(),
                };
                (ids, described)
            }
        }
    };
    let mut args = match (ask.run, ask.since, ask.until) {
        (Some(r), _, _) => format!(" --run {r}"),
        (None, None, None) => match runs.iter().filter(|r| ids.contains(&r.id)).find_map(day) {
            Some(d) => format!(" --since {d}"),
            None => String::new(),
        },
        (None, since, until) => {
            since.map(|d| format!(" --since {d}")).unwrap_or_default()
                + &until.map(|d| format!(" --until {d}")).unwrap_or_default()
        }
    };
    let described = match &ask.file {
        Some(f) => {
            args.push_str(&format!(" --file {f}"));
            format!("{described}, file {f}")
        }
        None => described,
    };
    Selection {
        runs: ids,
        file: ask.file.clone(),
        described,
        args,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: RunId, started: &str) -> RunInfo {
        RunInfo {
            id,
            command: "import".into(),
            source: None,
            started_at: started.into(),
            ended_at: None,
            outcome: None,
            files: Vec::new(),
            totals: Vec::new(),
        }
    }

    #[test]
    fn default_is_the_last_night() {
        let runs = [
            run(1, "2026-11-18T02:00:00.000Z"),
            run(2, "2026-11-19T02:00:00.000Z"),
            run(3, "2026-11-19T09:00:00.000Z"),
            run(4, "2026-11-20T02:00:00.000Z"),
        ];
        let s = select_from(&runs, &Ask::default());
        assert_eq!(s.runs.into_iter().collect::<Vec<_>>(), vec![2, 3, 4]);
    }

    #[test]
    fn since_until_and_run_select_runs() {
        let runs = [
            run(1, "2026-11-18T02:00:00.000Z"),
            run(2, "2026-11-19T02:00:00.000Z"),
            run(3, "2026-11-20T02:00:00.000Z"),
        ];
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        let ask = Ask {
            since: d("2026-11-18"),
            until: d("2026-11-19"),
            ..Ask::default()
        };
        assert_eq!(select_from(&runs, &ask).runs.len(), 2);
        let ask = Ask {
            run: Some(3),
            ..Ask::default()
        };
        assert_eq!(
            select_from(&runs, &ask)
                .runs
                .into_iter()
                .collect::<Vec<_>>(),
            vec![3]
        );
    }
}
