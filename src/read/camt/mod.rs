//! The camt reader (docs/formats.md#camt): ISO 20022 bank-to-customer statements (camt.053)
//! and debit / credit notifications (camt.054), streamed with a pull parser, one entry
//! (`Ntry`) at a time.
//!
//! Interpretations of ISO 20022 and of what banks send (docs/formats.md#camt):
//! - A document is recognised by its local element names (`Document` holding `BkToCstmrStmt`
//!   or `BkToCstmrDbtCdtNtfctn`), whatever the prefix, in any version `001.NN`; a namespace on
//!   `Document`, when there is one, must name camt.053.001 or camt.054.001 (national variants
//!   add text around it). An envelope (`AppHdr` beside `Document`) is read through.
//! - `Sts` is a code in versions up to 001.08 and `Sts/Cd` after; both are read.
//! - Only booked entries are payments or returns. A return is an entry with `RvslInd` = true or
//!   a detail with `RtrInf`, whatever its `CdtDbtInd` says: the direction is never flipped.
//! - Not payments (debits, pending and information entries, credits the code filter leaves out,
//!   accounts not listed) are counted per statement with their amount and recorded as
//!   [`Counted::Skipped`] checks, so that the summary and the report show them.
//! - Amounts are decimal text in the account's currency (`Acct/Ccy`, else that of its first
//!   balance), read straight to cents; an amount in another currency, or with non-zero digits
//!   past the cents, is handed over as text that validation rejects. Never a float.
//! - `TxsSummry/TtlCdtNtries` is checked against every credit entry of the statement (booked
//!   or not: the summary counts what the statement lists).
//! - The line of a row is that of its `Ntry` (or its `TxDtls` when the row is a detail).

mod input;
mod options;
mod tags;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::io::BufRead;
use std::sync::Arc;

use quick_xml::events::{BytesStart, Event};

pub use self::options::{CamtOptions, LoanFrom, Unit};
use self::options::{Compiled, normalise_account};
use self::tags::Tag;
use super::control::{ControlCheck, ControlModes, Controls, Counted};
use super::{FileError, PaymentReader, Position, RawAmount, RawFields, RawReturn, RawRow};
use crate::money::Cents;

/// What an end-to-end id says when the sender gave none.
const NOT_PROVIDED: &str = "NOTPROVIDED";

/// The most details one entry may hold in memory (a batch entry lists its payments).
const MAX_DETAILS: usize = 1_000_000;

/// Streams the payments and returns of one camt.053 or camt.054 file.
pub struct CamtReader<R: BufRead> {
    file: Arc<str>,
    xml: quick_xml::Reader<input::Input<R>>,
    buf: Vec<u8>,
    /// The line the parser has reached.
    line: u64,
    opts: Compiled,
    controls: Controls,
    /// The local names of the open elements.
    path: Vec<Tag>,
    /// The text of the innermost element so far.
    text: String,
    /// The `Ccy` of the last `Amt` opened.
    amt_ccy: String,
    /// Documents seen (more than one refuses the file) and whether the root element closed.
    documents: u32,
    root_closed: bool,
    /// The message's `GrpHdr/CreDtTm`.
    group_created: String,
    stmt: Option<Statement>,
    /// Index in `path` of the open statement, entry and detail.
    stmt_at: usize,
    entry: Option<Entry>,
    entry_at: usize,
    detail: Option<Detail>,
    detail_at: usize,
    out: VecDeque<RawRow>,
    done: bool,
}

/// A `Stmt` or `Ntfctn` being read.
#[derive(Default)]
struct Statement {
    line: u64,
    id: String,
    created: String,
    iban: String,
    other_id: String,
    ccy: String,
    balance_ccy: String,
    /// Whether the account is one to read: known at its first entry.
    wanted: Option<bool>,
    credits: i64,
    credit_cents: i64,
    stated_count: Option<(String, u64)>,
    stated_sum: Option<(String, u64)>,
    /// Not payments: what, how many, their amount in cents.
    skipped: Vec<(String, i64, i64)>,
}

impl Statement {
    fn account(&self) -> &str {
        if self.iban.is_empty() {
            &self.other_id
        } else {
            &self.iban
        }
    }

    fn currency(&self) -> &str {
        if self.ccy.is_empty() {
            &self.balance_ccy
        } else {
            &self.ccy
        }
    }

    fn skip(&mut self, what: String, cents: i64) {
        match self.skipped.iter_mut().find(|(w, _, _)| *w == what) {
            Some((_, n, total)) => {
                *n += 1;
                *total = total.saturating_add(cents);
            }
            None => self.skipped.push((what, 1, cents)),
        }
    }
}

/// An `Ntry` being read.
#[derive(Default)]
struct Entry {
    line: u64,
    amount: String,
    ccy: String,
    credit: Option<bool>,
    reversal: bool,
    status: String,
    booking: String,
    booking_time: String,
    value: String,
    value_time: String,
    acct_ref: String,
    ntry_ref: String,
    iso: [String; 3],
    proprietary: String,
    info: String,
    details: Vec<Detail>,
}

/// A `TxDtls` being read.
#[derive(Default, Clone)]
struct Detail {
    line: u64,
    amount: String,
    ccy: String,
    tx_amount: String,
    tx_ccy: String,
    end_to_end: String,
    instr_id: String,
    acct_ref: String,
    ustrd: String,
    creditor_ref: String,
    debtor: String,
    returned: bool,
    code: String,
}

impl Detail {
    /// The detail's own amount and currency (`Amt`, else `AmtDtls/TxAmt/Amt`).
    fn own_amount(&self) -> Option<(&str, &str)> {
        if !self.amount.is_empty() {
            Some((&self.amount, &self.ccy))
        } else if !self.tx_amount.is_empty() {
            Some((&self.tx_amount, &self.tx_ccy))
        } else {
            None
        }
    }

    fn end_to_end(&self) -> &str {
        if self.end_to_end.eq_ignore_ascii_case(NOT_PROVIDED) {
            ""
        } else {
            &self.end_to_end
        }
    }
}

impl<R: BufRead> CamtReader<R> {
    /// A reader of `input`, named `file` in messages.
    pub fn new(
        file: Arc<str>,
        input: R,
        options: &CamtOptions,
        modes: impl Into<ControlModes>,
    ) -> Result<Self, FileError> {
        let opts = options
            .compile()
            .map_err(|(key, m)| FileError::new(&file, None, format!("{key}: {m}")))?;
        let input = input::open(input).map_err(|m| FileError::new(&file, None, m))?;
        let mut xml = quick_xml::Reader::from_reader(input);
        let config = xml.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        Ok(CamtReader {
            controls: Controls::new(&file, modes),
            file,
            xml,
            buf: Vec::with_capacity(4096),
            line: 1,
            opts,
            path: Vec::new(),
            text: String::new(),
            amt_ccy: String::new(),
            documents: 0,
            root_closed: false,
            group_created: String::new(),
            stmt: None,
            stmt_at: 0,
            entry: None,
            entry_at: 0,
            detail: None,
            detail_at: 0,
            out: VecDeque::new(),
            done: false,
        })
    }

    fn error(&self, line: u64, message: impl Into<String>) -> FileError {
        FileError::new(&self.file, Some(line), message)
    }

    /// Reads one XML event; `Ok(false)` at the end of the file.
    fn step(&mut self) -> Result<bool, FileError> {
        // The event borrows the buffer, not the reader, so the handlers may change the reader.
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let result = match self.xml.read_event_into(&mut buf) {
            Ok(event) => self.handle(event),
            Err(e) => Err(self.error(self.line, format!("not well-formed XML: {e}"))),
        };
        self.buf = buf;
        result
    }

    /// Acts on one XML event; `Ok(false)` at the end of the file.
    fn handle(&mut self, event: Event) -> Result<bool, FileError> {
        match event {
            Event::Start(e) => {
                self.start(&e)?;
                self.line += newlines(&e);
            }
            Event::Empty(e) => {
                self.start(&e)?;
                self.line += newlines(&e);
                self.end()?;
            }
            Event::End(e) => {
                self.line += newlines(&e);
                self.end()?;
            }
            Event::Text(e) => {
                let text = std::str::from_utf8(&e).map_err(|_| {
                    self.error(
                        self.line,
                        "text that is not UTF-8: the file must declare its encoding (e.g. <?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>)",
                    )
                })?;
                if self.path.is_empty() && !text.trim().is_empty() {
                    return Err(self.error(
                        self.line,
                        "not well-formed XML: text outside the document's root element",
                    ));
                }
                self.text.push_str(text);
                self.line += newlines(&e);
            }
            Event::CData(e) => {
                self.text.push_str(&String::from_utf8_lossy(&e));
                self.line += newlines(&e);
            }
            Event::GeneralRef(e) => {
                let resolved = match e.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    Ok(None) => std::str::from_utf8(&e)
                        .ok()
                        .and_then(quick_xml::escape::resolve_predefined_entity)
                        .map(str::to_string),
                    Err(_) => None,
                };
                match resolved {
                    Some(t) => self.text.push_str(&t),
                    None => {
                        return Err(self.error(
                            self.line,
                            format!(
                                "not well-formed XML: unknown entity &{};",
                                String::from_utf8_lossy(&e)
                            ),
                        ));
                    }
                }
            }
            Event::Comment(e) | Event::DocType(e) => self.line += newlines(&e),
            Event::Decl(e) => self.line += newlines(&e),
            Event::PI(e) => self.line += newlines(&e),
            Event::Eof => {
                if let Some(open) = self.path.last() {
                    return Err(self.error(
                        self.line,
                        format!(
                            "not well-formed XML: the file ends inside <{open:?}>; it was cut short"
                        ),
                    ));
                }
                if self.documents == 0 {
                    return Err(
                        self.error(self.line, "no camt.053 or camt.054 Document in the file")
                    );
                }
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn start(&mut self, e: &BytesStart) -> Result<(), FileError> {
        if self.root_closed && self.path.is_empty() {
            return Err(self.error(
                self.line,
                "the file holds two documents (a second root element after the first ended); a camt file holds one",
            ));
        }
        let tag = Tag::of(e.local_name().as_ref());
        let parent = self.path.last().copied();
        match tag {
            Tag::Document => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(self.error(
                        self.line,
                        "the file holds two documents; a camt file holds one",
                    ));
                }
                self.check_namespace(e)?;
            }
            Tag::BkToCstmrAcctRpt if parent == Some(Tag::Document) => {
                return Err(self.error(
                    self.line,
                    "a camt.052 account report (intraday): payimport reads camt.053 statements and camt.054 notifications, which report booked entries",
                ));
            }
            Tag::BkToCstmrStmt | Tag::BkToCstmrDbtCdtNtfctn if parent == Some(Tag::Document) => {}
            _ if parent == Some(Tag::Document) => {
                return Err(self.error(
                    self.line,
                    format!(
                        "<Document> holds <{}>, not a camt.053 statement (BkToCstmrStmt) or camt.054 notification (BkToCstmrDbtCdtNtfctn)",
                        String::from_utf8_lossy(e.local_name().as_ref())
                    ),
                ));
            }
            Tag::Stmt | Tag::Ntfctn
                if matches!(
                    parent,
                    Some(Tag::BkToCstmrStmt | Tag::BkToCstmrDbtCdtNtfctn)
                ) =>
            {
                self.stmt = Some(Statement {
                    line: self.line,
                    ..Statement::default()
                });
                self.stmt_at = self.path.len();
            }
            Tag::Ntry if self.stmt.is_some() && self.path.len() == self.stmt_at + 1 => {
                self.entry = Some(Entry {
                    line: self.line,
                    ..Entry::default()
                });
                self.entry_at = self.path.len();
            }
            Tag::TxDtls if self.entry.is_some() && parent == Some(Tag::NtryDtls) => {
                self.detail = Some(Detail {
                    line: self.line,
                    ..Detail::default()
                });
                self.detail_at = self.path.len();
            }
            Tag::Amt => {
                self.amt_ccy.clear();
                if let Ok(Some(a)) = e.try_get_attribute("Ccy") {
                    self.amt_ccy
                        .push_str(String::from_utf8_lossy(&a.value).trim());
                }
            }
            _ => {}
        }
        self.path.push(tag);
        self.text.clear();
        Ok(())
    }

    /// A namespace on `Document` must be a camt.053 or camt.054 one.
    fn check_namespace(&self, e: &BytesStart) -> Result<(), FileError> {
        let prefix = e.name().prefix().map(|p| p.as_ref().to_vec());
        let wanted: Vec<u8> = match &prefix {
            Some(p) => [b"xmlns:".as_slice(), p].concat(),
            None => b"xmlns".to_vec(),
        };
        for attr in e.attributes().flatten() {
            if attr.key.as_ref() != wanted.as_slice() {
                continue;
            }
            let ns = String::from_utf8_lossy(&attr.value).to_string();
            if ns.contains("camt.052.") {
                return Err(self.error(
                    self.line,
                    format!(
                        "a camt.052 account report (namespace {ns}): payimport reads camt.053 statements and camt.054 notifications"
                    ),
                ));
            }
            if !ns.contains("camt.053.001.") && !ns.contains("camt.054.001.") {
                return Err(self.error(
                    self.line,
                    format!(
                        "namespace {ns:?} is not that of a camt.053.001 or camt.054.001 document"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), FileError> {
        let text = std::mem::take(&mut self.text);
        let value = text.trim();
        let depth = self.path.len();
        let (detail_at, entry_at, stmt_at) = (self.detail_at, self.entry_at, self.stmt_at);
        if let Some(d) = self.detail.as_mut().filter(|_| depth > detail_at + 1) {
            let rel = &self.path[detail_at + 1..];
            match rel {
                [Tag::Amt] => {
                    d.amount = value.into();
                    d.ccy.clone_from(&self.amt_ccy);
                }
                [Tag::AmtDtls, Tag::TxAmt, Tag::Amt] => {
                    d.tx_amount = value.into();
                    d.tx_ccy.clone_from(&self.amt_ccy);
                }
                [Tag::Refs, Tag::EndToEndId] => d.end_to_end = value.into(),
                [Tag::Refs, Tag::InstrId] => d.instr_id = value.into(),
                [Tag::Refs, Tag::AcctSvcrRef] => d.acct_ref = value.into(),
                [Tag::RmtInf, Tag::Ustrd] => {
                    if !d.ustrd.is_empty() {
                        d.ustrd.push(' ');
                    }
                    d.ustrd.push_str(value);
                }
                [Tag::RmtInf, Tag::Strd, Tag::CdtrRefInf, Tag::Ref] => {
                    d.creditor_ref = value.into()
                }
                [Tag::RltdPties, Tag::Dbtr, Tag::Nm]
                | [Tag::RltdPties, Tag::Dbtr, Tag::Pty, Tag::Nm] => d.debtor = value.into(),
                [Tag::RtrInf] => d.returned = true,
                [Tag::RtrInf, Tag::Rsn, Tag::Cd] | [Tag::RtrInf, Tag::Rsn, Tag::Prtry] => {
                    d.code = value.into()
                }
                _ => {}
            }
        } else if let Some(n) = self.entry.as_mut().filter(|_| depth > entry_at + 1) {
            let rel = &self.path[entry_at + 1..];
            match rel {
                [Tag::Amt] => {
                    n.amount = value.into();
                    n.ccy.clone_from(&self.amt_ccy);
                }
                [Tag::CdtDbtInd] => n.credit = Some(value == "CRDT"),
                [Tag::RvslInd] => n.reversal = value == "true" || value == "1",
                [Tag::Sts] if !value.is_empty() => n.status = value.into(),
                [Tag::Sts, Tag::Cd] => n.status = value.into(),
                [Tag::BookgDt, Tag::Dt] => n.booking = value.into(),
                [Tag::BookgDt, Tag::DtTm] => n.booking_time = value.into(),
                [Tag::ValDt, Tag::Dt] => n.value = value.into(),
                [Tag::ValDt, Tag::DtTm] => n.value_time = value.into(),
                [Tag::AcctSvcrRef] => n.acct_ref = value.into(),
                [Tag::NtryRef] => n.ntry_ref = value.into(),
                [Tag::BkTxCd, Tag::Domn, Tag::Cd] => n.iso[0] = value.into(),
                [Tag::BkTxCd, Tag::Domn, Tag::Fmly, Tag::Cd] => n.iso[1] = value.into(),
                [Tag::BkTxCd, Tag::Domn, Tag::Fmly, Tag::SubFmlyCd] => n.iso[2] = value.into(),
                [Tag::BkTxCd, Tag::Prtry, Tag::Cd] => n.proprietary = value.into(),
                [Tag::AddtlNtryInf] => n.info = value.into(),
                [Tag::NtryDtls, Tag::TxDtls] => {
                    let d = self.detail.take().expect("open detail");
                    if n.details.len() >= MAX_DETAILS {
                        let line = n.line;
                        return Err(self.error(
                            line,
                            format!("an entry with more than {MAX_DETAILS} transaction details"),
                        ));
                    }
                    n.details.push(d);
                }
                _ => {}
            }
        } else if let Some(s) = self.stmt.as_mut().filter(|_| depth > stmt_at + 1) {
            let line = self.line;
            let rel = &self.path[stmt_at + 1..];
            match rel {
                [Tag::Id] => s.id = value.into(),
                [Tag::CreDtTm] => s.created = value.into(),
                [Tag::Acct, Tag::Id, Tag::Iban] => s.iban = value.into(),
                [Tag::Acct, Tag::Id, Tag::Othr, Tag::Id] => s.other_id = value.into(),
                [Tag::Acct, Tag::Ccy] => s.ccy = value.into(),
                [Tag::Bal, Tag::Amt] if s.balance_ccy.is_empty() => {
                    s.balance_ccy.clone_from(&self.amt_ccy)
                }
                [Tag::TxsSummry, Tag::TtlCdtNtries, Tag::NbOfNtries] => {
                    s.stated_count = Some((value.into(), line))
                }
                [Tag::TxsSummry, Tag::TtlCdtNtries, Tag::Sum] => {
                    s.stated_sum = Some((value.into(), line))
                }
                [Tag::Ntry] => {
                    let entry = self.entry.take().expect("open entry");
                    self.finish_entry(entry);
                }
                _ => {}
            }
        } else if let [.., Tag::GrpHdr, Tag::CreDtTm] = self.path.as_slice() {
            self.group_created = value.into();
        } else if self.stmt.is_some() && depth == self.stmt_at + 1 {
            let stmt = self.stmt.take().expect("open statement");
            self.finish_statement(stmt)?;
        }
        self.path.pop();
        if self.path.is_empty() {
            self.root_closed = true;
        }
        Ok(())
    }

    /// Turns a complete entry into rows, or counts it as not a payment.
    fn finish_entry(&mut self, e: Entry) {
        let stmt = self.stmt.as_mut().expect("open statement");
        let entry_cents = decimal_cents(&e.amount);
        if e.credit == Some(true) {
            stmt.credits += 1;
            stmt.credit_cents = stmt.credit_cents.saturating_add(entry_cents.unwrap_or(0));
        }
        let cents = entry_cents.unwrap_or(0);
        let wanted = match stmt.wanted {
            Some(w) => w,
            None => {
                let w = self.opts.accounts.is_empty()
                    || self
                        .opts
                        .accounts
                        .contains(&normalise_account(stmt.account()));
                stmt.wanted = Some(w);
                w
            }
        };
        if !wanted {
            stmt.skip("entries of an account not in `accounts`".into(), cents);
            return;
        }
        let status = e.status.to_ascii_uppercase();
        if status != "BOOK" {
            let what = match status.as_str() {
                "PDNG" => "pending (PDNG) entries".to_string(),
                "INFO" => "information (INFO) entries".to_string(),
                "" => "entries without a status".to_string(),
                other => format!("entries with status {other}"),
            };
            stmt.skip(what, cents);
            return;
        }
        let returns = e.reversal || e.details.iter().any(|d| d.returned);
        let credit = e.credit == Some(true);
        if !returns {
            if !credit {
                stmt.skip("debit entries".into(), cents);
                return;
            }
            if !self.opts.codes.is_empty()
                && !self
                    .opts
                    .codes
                    .iter()
                    .any(|c| c.matches(&e.iso, &e.proprietary))
            {
                stmt.skip("credits outside `bank_transaction_codes`".into(), cents);
                return;
            }
        }
        let account_ccy = stmt.currency().to_string();
        let in_account_ccy =
            |ccy: &str| ccy.is_empty() || account_ccy.is_empty() || ccy == account_ccy;
        let per_detail = match self.opts.unit {
            Unit::Entry => false,
            Unit::Detail => !e.details.is_empty(),
            Unit::Auto => {
                e.details.len() >= 2 && entry_cents.is_some() && {
                    let mut sum = Some(0i64);
                    for d in &e.details {
                        sum = match d.own_amount() {
                            Some((amount, ccy)) if in_account_ccy(ccy) => sum
                                .zip(decimal_cents(amount))
                                .map(|(s, c)| s.saturating_add(c)),
                            _ => None,
                        };
                    }
                    sum == entry_cents
                }
            }
        };
        let date = self.entry_date(&e);
        if per_detail {
            for d in &e.details {
                let (amount, ccy) = d.own_amount().unwrap_or(("", ""));
                let returned = e.reversal || d.returned;
                if !returned && !credit {
                    let stmt = self.stmt.as_mut().expect("open statement");
                    stmt.skip("debit details".into(), decimal_cents(amount).unwrap_or(0));
                    continue;
                }
                let amount = raw_amount(amount, ccy, &account_ccy);
                let loan = self.loan_of(d);
                self.emit(d.line, amount, &date, loan, d, &e, returned);
            }
        } else {
            // One row for the entry: its details (when they agree) say whose payment it is.
            let (loan, detail) = match e.details.as_slice() {
                [one] => (self.loan_of(one), one.clone()),
                [] => {
                    let d = Detail {
                        ustrd: e.info.clone(),
                        ..Detail::default()
                    };
                    (self.loan_of(&d), d)
                }
                several => {
                    let loans: Vec<String> = several.iter().map(|d| self.loan_of(d)).collect();
                    let loan = if loans.iter().all(|l| *l == loans[0]) {
                        loans[0].clone()
                    } else {
                        String::new()
                    };
                    let d = several
                        .iter()
                        .find(|d| d.returned)
                        .map(|r| Detail {
                            returned: true,
                            code: r.code.clone(),
                            end_to_end: r.end_to_end.clone(),
                            instr_id: r.instr_id.clone(),
                            ..Detail::default()
                        })
                        .unwrap_or_default();
                    (loan, d)
                }
            };
            let amount = raw_amount(&e.amount, &e.ccy, &account_ccy);
            self.emit(e.line, amount, &date, loan, &detail, &e, returns);
        }
    }

    /// The loan of a detail, from the places `loan_from` lists, in order.
    fn loan_of(&self, d: &Detail) -> String {
        for from in &self.opts.loan_from {
            let found = match from {
                LoanFrom::Reference => d.creditor_ref.trim().to_string(),
                LoanFrom::EndToEndId => d.end_to_end().trim().to_string(),
                LoanFrom::Remittance => self
                    .opts
                    .pattern
                    .as_ref()
                    .and_then(|re| re.captures(&d.ustrd))
                    .and_then(|c| c.get(1))
                    .map(|m| m.as_str().trim().to_string())
                    .unwrap_or_default(),
            };
            if !found.is_empty() {
                return found;
            }
        }
        String::new()
    }

    /// The payment date of an entry: booking date, else value date, else the statement's
    /// creation date (said in the log, as the row's date is then the statement's).
    fn entry_date(&self, e: &Entry) -> String {
        let day = |t: &str| t.split('T').next().unwrap_or("").trim().to_string();
        for (date, time) in [(&e.booking, &e.booking_time), (&e.value, &e.value_time)] {
            if !date.is_empty() {
                return date.clone();
            }
            if !time.is_empty() {
                return day(time);
            }
        }
        let stmt = self.stmt.as_ref().expect("open statement");
        let created = if stmt.created.is_empty() {
            &self.group_created
        } else {
            &stmt.created
        };
        tracing::info!(
            file = %self.file,
            line = e.line,
            "entry without BookgDt or ValDt: its date is the statement's CreDtTm {created}"
        );
        day(created)
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        line: u64,
        amount: RawAmount,
        date: &str,
        loan: String,
        d: &Detail,
        e: &Entry,
        returned: bool,
    ) {
        let reference = [d.end_to_end(), &d.acct_ref, &e.acct_ref, &e.ntry_ref]
            .into_iter()
            .find(|r| !r.is_empty())
            .unwrap_or("")
            .to_string();
        let ret = returned.then(|| {
            let original = if d.end_to_end().is_empty() {
                d.instr_id.clone()
            } else {
                d.end_to_end().to_string()
            };
            Box::new(RawReturn {
                code: d.code.clone(),
                original_reference: original,
                ..RawReturn::default()
            })
        });
        self.out.push_back(RawRow {
            pos: Position {
                file: self.file.clone(),
                line,
            },
            fields: RawFields {
                loan,
                amount,
                date: date.to_string(),
                reference,
                ret,
                ..RawFields::default()
            },
        });
    }

    /// Checks a statement's stated totals and records what it held that is not a payment.
    fn finish_statement(&mut self, s: Statement) -> Result<(), FileError> {
        let scope = match (s.id.is_empty(), s.account().is_empty()) {
            (false, false) => format!("statement {} account {}", s.id, s.account()),
            (false, true) => format!("statement {}", s.id),
            (true, false) => format!("account {}", s.account()),
            (true, true) => format!("statement at line {}", s.line),
        };
        let mut checks = Vec::new();
        if let Some((count, line)) = &s.stated_count {
            let stated = count.parse::<i64>().map_err(|_| {
                self.error(
                    *line,
                    format!("TxsSummry NbOfNtries {count:?} is not a number"),
                )
            })?;
            checks.push((
                ControlCheck {
                    scope: format!("{scope} credit entries"),
                    what: Counted::Items,
                    line: *line,
                    stated,
                    computed: s.credits,
                },
                String::new(),
            ));
        }
        if let Some((sum, line)) = &s.stated_sum {
            let stated = decimal_cents(sum).ok_or_else(|| {
                self.error(*line, format!("TxsSummry Sum {sum:?} is not an amount"))
            })?;
            checks.push((
                ControlCheck {
                    scope: format!("{scope} credit entries"),
                    what: Counted::Amount,
                    line: *line,
                    stated,
                    computed: s.credit_cents,
                },
                String::new(),
            ));
        }
        for (what, n, cents) in &s.skipped {
            checks.push((
                ControlCheck {
                    scope: format!("{scope}: {what} totalling {}", Cents(*cents)),
                    what: Counted::Skipped,
                    line: s.line,
                    stated: *n,
                    computed: *n,
                },
                String::new(),
            ));
        }
        self.controls.settle(checks)
    }
}

/// The amount as handed over: cents when it is in the account's currency and exact in cents,
/// else the text (with its currency when that is another one), which validation rejects.
fn raw_amount(amount: &str, ccy: &str, account_ccy: &str) -> RawAmount {
    if !ccy.is_empty() && !account_ccy.is_empty() && ccy != account_ccy {
        return RawAmount::Text(format!("{amount} {ccy}"));
    }
    match decimal_cents(amount) {
        Some(c) => RawAmount::Cents(Cents(c)),
        None => RawAmount::Text(amount.to_string()),
    }
}

/// An ISO 20022 amount (`1234.5`, `0.10`, `12.000`) in cents; `None` when it is not one, or
/// has non-zero digits past the cents (never rounded).
fn decimal_cents(text: &str) -> Option<i64> {
    let text = text.trim();
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() || int.len() > 15 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (text.contains('.') && frac.is_empty()) {
        return None;
    }
    if frac.len() > 2 && frac.bytes().skip(2).any(|b| b != b'0') {
        return None;
    }
    let mut cents: i64 = int.parse::<i64>().ok()?.checked_mul(100)?;
    let f = frac.as_bytes();
    for (i, scale) in [(0, 10), (1, 1)] {
        if let Some(b) = f.get(i) {
            cents += i64::from(b - b'0') * scale;
        }
    }
    Some(cents)
}

/// The line breaks in an event's bytes.
fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

impl<R: BufRead> Iterator for CamtReader<R> {
    type Item = Result<RawRow, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(row) = self.out.pop_front() {
                return Some(Ok(row));
            }
            if self.done {
                return None;
            }
            match self.step() {
                Ok(true) => {}
                Ok(false) => self.done = true,
                Err(e) => {
                    self.done = true;
                    self.out.clear();
                    return Some(Err(e));
                }
            }
        }
    }
}

impl<R: BufRead> PaymentReader for CamtReader<R> {
    fn control_checks(&self) -> &[ControlCheck] {
        self.controls.checks()
    }
}
