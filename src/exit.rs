//! How a command ends (docs/commands.md): the exit status `cmd/` chooses and `metrics` records.

/// How a command ended (docs/commands.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Every row is `posted` or `already_posted`.
    Done = 0,
    /// Done, but some rows need attention.
    Attention = 1,
    /// Bad arguments or settings, a refused file, refused credentials, ledger in use, I/O error.
    Fatal = 2,
}

impl Exit {
    /// `Attention` when some rows need a person, else `Done`.
    pub fn for_attention(rows_needing_attention: u64) -> Exit {
        if rows_needing_attention > 0 {
            Exit::Attention
        } else {
            Exit::Done
        }
    }
}
