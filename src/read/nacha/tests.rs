use super::*;

fn entry(loan: &str, cents: i64, code: &str, notice: bool) -> ReturnEntry {
    ReturnEntry {
        loan: loan.into(),
        cents,
        code: code.into(),
        original_trace: "091000010000042".into(),
        trace: format!("0910000100{:05}", cents % 100_000),
        notice,
    }
}

fn read(text: &str, mode: ControlTotals) -> (Vec<Result<RawRow, FileError>>, u64, usize) {
    let mut r = NachaReader::new("r.ach".into(), text.as_bytes(), mode);
    let rows: Vec<_> = r.by_ref().collect();
    (rows, r.notices(), r.control_checks().len())
}

#[test]
fn a_generated_file_reads_back_as_its_returns() {
    let text = return_file(
        "261124",
        &[
            entry("12", 25_000, "R01", false),
            entry("13", 1_050, "C01", true),
            entry(" LN000007 ", 99, "R02", false),
        ],
    );
    for line in text.lines() {
        assert_eq!(line.len(), RECORD, "{line:?}");
    }
    let (rows, notices, checks) = read(&text, ControlTotals::Enforce);
    let rows: Vec<RawRow> = rows.into_iter().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(notices, 1);
    assert_eq!(checks, 9, "4 batch and 5 file controls");
    let r = &rows[0];
    assert_eq!(r.pos.line, 3);
    assert_eq!(r.fields.loan, "12");
    assert_eq!(r.fields.amount, RawAmount::Cents(Cents(25_000)));
    assert_eq!(r.fields.date, "2026-11-24");
    assert_eq!(r.fields.reference, "091000010025000");
    let ret = r.fields.ret.as_ref().unwrap();
    assert_eq!(ret.code, "R01");
    assert_eq!(ret.original_reference, "091000010000042");
    assert_eq!(rows[1].fields.loan, "LN000007");
    assert_eq!(rows[1].pos.line, 7);
}

#[test]
fn crlf_and_padding_are_read() {
    let text = return_file("261124", &[entry("12", 100, "R01", false)]).replace('\n', "\r\n");
    let (rows, _, _) = read(&text, ControlTotals::Enforce);
    assert_eq!(rows.len(), 1);
    assert!(rows[0].is_ok());
}

#[test]
fn control_totals_are_enforced_or_warned() {
    let text = return_file("261124", &[entry("12", 100, "R01", false)]);
    // The batch control states a debit total of 1.01.
    let bad = text.replace("000000000100000000000000", "000000000101000000000000");
    assert_ne!(bad, text);
    let (rows, _, _) = read(&bad, ControlTotals::Enforce);
    let e = rows.last().unwrap().as_ref().unwrap_err();
    assert_eq!(e.line, Some(5));
    assert!(
        e.message.contains("amount: stated 1.01, computed 1.00"),
        "{e}"
    );
    let (rows, _, _) = read(&bad, ControlTotals::Warn);
    assert!(rows.iter().all(Result::is_ok));
}

#[test]
fn structural_errors_name_the_line() {
    let good = return_file("261124", &[entry("12", 100, "R01", false)]);
    let lines: Vec<&str> = good.lines().collect();
    let cases: Vec<(String, u64, &str)> = vec![
        (
            lines[1..].join("\n"),
            1,
            "does not begin with a file header",
        ),
        (
            good.replacen(lines[2], &format!("{}XX", lines[2]), 1),
            3,
            "94 ASCII characters",
        ),
        ([lines[0], lines[2]].join("\n"), 2, "outside a batch"),
        (lines[..4].join("\n"), 4, "without its file control"),
        (
            [lines[0], lines[1], lines[2], lines[4]].join("\n"),
            4,
            "announces an addenda",
        ),
        (
            good.replacen(
                lines[2],
                &lines[2].replacen("0000000100", "00000001x0", 1),
                1,
            ),
            3,
            "the amount",
        ),
        (String::new(), 0, "empty"),
    ];
    for (text, line, message) in cases {
        let (rows, _, _) = read(&text, ControlTotals::Enforce);
        let e = rows.last().unwrap().as_ref().unwrap_err();
        assert!(e.message.contains(message), "{message}: {e}");
        if line > 0 {
            assert_eq!(e.line, Some(line), "{e}");
        }
    }
}

#[test]
fn lines_stripped_of_trailing_blanks_are_padded_back() {
    let good = return_file(
        "261124",
        &[
            entry("12", 100, "R01", false),
            entry("13 ", 200, "R02", false),
        ],
    );
    let trimmed: String = good
        .lines()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect();
    assert!(
        trimmed.lines().any(|l| l.len() < RECORD),
        "the fixture has short lines"
    );
    let (want, _, checks) = read(&good, ControlTotals::Enforce);
    let (got, _, trimmed_checks) = read(&trimmed, ControlTotals::Enforce);
    assert_eq!(got, want);
    assert_eq!((got.len(), trimmed_checks), (2, checks));
}

#[test]
fn a_file_without_line_breaks_is_cut_into_records() {
    let good = return_file(
        "261124",
        &[
            entry("12", 100, "R01", false),
            entry("13", 1_050, "C01", true),
        ],
    );
    let (want, want_notices, checks) = read(&good, ControlTotals::Enforce);
    for joined in [
        good.replace('\n', ""),
        format!("\u{feff}{}\n", good.replace('\n', "")),
    ] {
        let (got, notices, got_checks) = read(&joined, ControlTotals::Enforce);
        assert_eq!(got, want);
        assert_eq!((notices, got_checks), (want_notices, checks));
    }
    // Cut short in the middle of a record: still refused, naming the record.
    let joined = good.replace('\n', "");
    let (rows, _, _) = read(&joined[..joined.len() - 300], ControlTotals::Enforce);
    let e = rows.last().unwrap().as_ref().unwrap_err();
    assert!(e.message.contains("file control"), "{e}");
}
