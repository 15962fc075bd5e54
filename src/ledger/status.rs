//! Row states (SPEC §5) and their names in the ledger and the report.

/// The state of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Staged, waiting to be sent.
    Pending,
    /// Claimed by a run; its request may be in flight.
    Sending,
    /// LoanPro said yes.
    Posted,
    /// LoanPro said no (4xx, 409, or 200 with an error), with its message.
    Failed,
    /// Never reached LoanPro: transient failures used up the attempts, or the run stopped first.
    Unsent,
    /// Sent, but the answer never came (timeout, reset, 5xx): it may have been logged.
    Unknown,
    /// Invalid: never sent.
    Rejected,
    /// Its key was posted by an earlier run: skipped.
    AlreadyPosted,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Pending,
        Status::Sending,
        Status::Posted,
        Status::Failed,
        Status::Unsent,
        Status::Unknown,
        Status::Rejected,
        Status::AlreadyPosted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sending => "sending",
            Status::Posted => "posted",
            Status::Failed => "failed",
            Status::Unsent => "unsent",
            Status::Unknown => "unknown",
            Status::Rejected => "rejected",
            Status::AlreadyPosted => "already_posted",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether a row in this state needs a person (exit status 1).
    pub fn needs_attention(self) -> bool {
        !matches!(self, Status::Posted | Status::AlreadyPosted)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
