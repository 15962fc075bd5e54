//! The settings file's tests: what is accepted, and what each refusal says.

use super::*;
use crate::read::bai2::TypeCodes;
use crate::read::control::{ControlModes, ControlTotals};

const GOOD: &str = r#"
[loanpro]
base_url = "https://loanpro.simnang.com/api/public/api/1"
tenant_id = "5200243"

[payments]
payment_methods = { 3 = "Credit/Debit Card", 4 = "Check", 5 = "ACH" }
payment_types = { 1 = "Regular", 2 = "Payoff" }
extra = ["payment.extra.tx.principal", "payment.extra.periods.next"]
default_payment_method_id = 4
default_payment_type_id = 1
default_extra = "payment.extra.tx.principal"

[sources.bank_csv]
format = "csv"
[sources.bank_csv.columns]
loan = "Loan Number"
"#;

fn load(text: &str) -> Result<Settings, SettingsError> {
    Settings::from_toml(text, Path::new("/etc/payimport/payimport.toml"))
}

fn err(text: &str) -> String {
    load(text).unwrap_err().to_string()
}

#[test]
fn good_settings_load_with_defaults() {
    let s = load(GOOD).unwrap();
    assert_eq!(s.limits.concurrency, 4);
    assert_eq!(s.ledger_path, Path::new("/etc/payimport/payimport.sqlite"));
    let src = s.source(None).unwrap();
    let SourceFormat::Csv { columns, .. } = &src.format else {
        panic!("a csv source: {src:?}");
    };
    assert_eq!(columns.loan, "Loan Number");
    assert_eq!(columns.amount, "amount");
    assert_eq!(src.payment_method_id, 4);
    assert_eq!(s.payments.payment_methods[&3], "Credit/Debit Card");
}

#[test]
fn unknown_key_is_named() {
    let e = err(&GOOD.replace("tenant_id", "tenant_id = \"1\"\ntenant = \"x\"\n#"));
    assert!(e.contains("unknown field `tenant`"), "{e}");
    let e = err(&format!("{GOOD}\n[limits]\nconcurency = 3\n"));
    assert!(e.contains("unknown field `concurency`"), "{e}");
}

#[test]
fn default_not_in_its_list_is_named() {
    let e = err(&GOOD.replace(
        "default_payment_method_id = 4",
        "default_payment_method_id = 9",
    ));
    assert!(e.contains("`payments.default_payment_method_id`"), "{e}");
    assert!(
        e.contains("9 is not in payments.payment_methods (3, 4, 5)"),
        "{e}"
    );
    let e = err(&GOOD.replace(
        "default_extra = \"payment.extra.tx.principal\"",
        "default_extra = \"payment.extra.tx.classic\"",
    ));
    assert!(e.contains("`payments.default_extra`"), "{e}");
}

#[test]
fn source_override_must_be_allowed() {
    let e = err(&GOOD.replace("format = \"csv\"", "format = \"csv\"\npayment_type_id = 7"));
    assert!(e.contains("`sources.bank_csv.payment_type_id`"), "{e}");
}

#[test]
fn non_positive_limits_are_named() {
    for (line, key) in [
        ("requests_per_second = 0", "limits.requests_per_second"),
        ("requests_per_second = -1.5", "limits.requests_per_second"),
        ("concurrency = 0", "limits.concurrency"),
        ("max_attempts = 0", "limits.max_attempts"),
        ("settle_secs = -1", "limits.settle_secs"),
    ] {
        let e = err(&format!("{GOOD}\n[limits]\n{line}\n"));
        assert!(e.contains(&format!("`{key}`")), "{line}: {e}");
    }
}

#[test]
fn plain_http_only_to_loopback() {
    let e = err(&GOOD.replace("https://loanpro.simnang.com", "http://loanpro.simnang.com"));
    assert!(
        e.contains("`loanpro.base_url`") && e.contains("clear text"),
        "{e}"
    );
    for ok in [
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:9",
    ] {
        assert!(
            load(&GOOD.replace("https://loanpro.simnang.com", ok)).is_ok(),
            "{ok}"
        );
    }
}

#[test]
fn every_number_is_bounded_and_the_message_gives_the_range() {
    for (section, line, key, message) in [
        (
            "loanpro",
            "timeout_secs = 1e30",
            "loanpro.timeout_secs",
            "must be from 0.1 to 600.0 seconds, got 1e30",
        ),
        (
            "loanpro",
            "timeout_secs = nan",
            "loanpro.timeout_secs",
            "must be from 0.1 to 600.0 seconds, got NaN",
        ),
        (
            "loanpro",
            "timeout_secs = 0",
            "loanpro.timeout_secs",
            "must be from 0.1 to 600.0 seconds, got 0.0",
        ),
        (
            "limits",
            "settle_secs = 1e20",
            "limits.settle_secs",
            "must be from 0.0 to 3600.0 seconds, got 1e20",
        ),
        (
            "limits",
            "settle_secs = inf",
            "limits.settle_secs",
            "must be from 0.0 to 3600.0 seconds, got inf",
        ),
        (
            "limits",
            "requests_per_second = 1e-9",
            "limits.requests_per_second",
            "must be from 0.1 to 1000000.0, got 1e-9",
        ),
        (
            "limits",
            "requests_per_second = 1e7",
            "limits.requests_per_second",
            "must be from 0.1 to 1000000.0, got 10000000.0",
        ),
        (
            "limits",
            "concurrency = -1",
            "limits.concurrency",
            "must be from 1 to 256, got -1",
        ),
        (
            "limits",
            "concurrency = 100000",
            "limits.concurrency",
            "must be from 1 to 256, got 100000",
        ),
        (
            "limits",
            "max_attempts = 4294967297",
            "limits.max_attempts",
            "must be from 1 to 100, got 4294967297",
        ),
    ] {
        let text = if section == "loanpro" {
            GOOD.replace(
                "tenant_id = \"5200243\"",
                &format!("tenant_id = \"5200243\"\n{line}"),
            )
        } else {
            format!("{GOOD}\n[{section}]\n{line}\n")
        };
        assert_eq!(
            err(&text),
            format!("settings file /etc/payimport/payimport.toml: `{key}`: {message}"),
            "{line}"
        );
    }
    // The bounds themselves are allowed.
    let s = load(&format!(
        "{GOOD}\n[limits]\nrequests_per_second = 1000000\nconcurrency = 256\nmax_attempts = 100\nsettle_secs = 3600\n"
    ))
    .unwrap();
    assert_eq!(s.limits.concurrency, 256);
    assert_eq!(s.limits.max_attempts, 100);
    let s = load(&format!(
        "{GOOD}\n[limits]\nrequests_per_second = 0.1\nconcurrency = 1\nmax_attempts = 1\nsettle_secs = 0\n"
    ))
    .unwrap();
    assert_eq!(s.limits.settle_secs, 0.0);
    for t in ["0.1", "600"] {
        let text = GOOD.replace(
            "tenant_id = \"5200243\"",
            &format!("tenant_id = \"5200243\"\ntimeout_secs = {t}"),
        );
        assert!(load(&text).is_ok(), "{t}");
    }
}

#[test]
fn max_age_days_is_a_key_of_every_format_and_bounded() {
    let s = load(GOOD).unwrap();
    assert_eq!(s.sources["bank_csv"].max_age_days, 365, "the default");
    for body in [
        "format = \"csv\"\nmax_age_days = 30",
        "format = \"lockbox\"\nmax_age_days = 30",
        "format = \"bai2\"\ntype_codes = [165]\nmax_age_days = 30",
    ] {
        let s = load(&with_source("other", body)).unwrap();
        assert_eq!(s.sources["other"].max_age_days, 30, "{body}");
    }
    for (days, got) in [("0", "0"), ("3651", "3651"), ("-5", "-5")] {
        let e = err(&with_source(
            "other",
            &format!("format = \"csv\"\nmax_age_days = {days}"),
        ));
        assert_eq!(
            e,
            format!(
                "settings file /etc/payimport/payimport.toml: `sources.other.max_age_days`: must be from 1 to 3650 days, got {got}"
            )
        );
    }
}

#[test]
fn a_base_url_must_be_a_plain_scheme_host_and_path() {
    for (url, says) in [
        ("https://lp.example/api?x=1", "has a query"),
        ("https://lp.example/api?", "has a query"),
        ("https://lp.example/api#top", "has a fragment"),
        ("https://lp.example/api/../public", "`..` segment"),
        ("https://lp.example/api/./public", "`..` segment"),
        ("https://lp.example/api/%2E%2e/public", "`..` segment"),
        ("https://lp.example/..", "`..` segment"),
        ("https:///api", "has no host"),
        ("https://?x", "host"),
        ("https:lp.example/api", "scheme://host/path"),
        ("https:/lp.example/api", "scheme://host/path"),
        ("ftp://lp.example/api", "must start with https://"),
        ("file:///etc/passwd", "must start with https://"),
        ("javascript:alert(1)", "must start with https://"),
        // TOML text: `\\` is one backslash.
        ("https://lp.example/a\\\\..\\\\b", "backslash"),
        ("https://lp.example/api ", "blank or a control character"),
        ("https://lp.ex\tample/api", "blank or a control character"),
        ("lp.example/api", "is not a URL"),
        ("", "is not a URL"),
    ] {
        let e = err(&GOOD.replace("https://loanpro.simnang.com/api/public/api/1", url));
        assert!(
            e.contains("`loanpro.base_url`") && e.contains(says),
            "{url:?}: {e}"
        );
    }
    for ok in [
        "https://lp.example",
        "https://lp.example/",
        "https://lp.example/api/public/api/1/",
        "https://lp.example:8443/api..v2/.well/x.",
        "HTTPS://LP.example/api",
    ] {
        assert!(
            load(&GOOD.replace("https://loanpro.simnang.com/api/public/api/1", ok)).is_ok(),
            "{ok}"
        );
    }
}

#[test]
fn a_ledger_records_one_spelling_of_a_base_url() {
    let with = |url: &str| {
        load(&GOOD.replace("https://loanpro.simnang.com/api/public/api/1", url))
            .unwrap()
            .loanpro
            .ledger_base_url()
    };
    let url = "https://lp.example/api/public/api/1";
    for same in [
        "https://lp.example/api/public/api/1/",
        "HTTPS://LP.EXAMPLE/api/public/api/1",
        "https://lp.example:443/api/public/api/1//",
    ] {
        assert_eq!(with(same), url, "{same}");
    }
    assert_eq!(with("https://lp.example/"), "https://lp.example");
    assert_ne!(with("https://lp.example/API/public/api/1"), url);
    assert_ne!(with("https://lp.example:8443/api/public/api/1"), url);
}

#[test]
fn a_token_env_must_be_a_variable_name() {
    // As TOML strings: `\u0000` is NUL.
    for bad in [r#""""#, r#"" ""#, r#""A=B""#, r#""A\u0000B""#] {
        let e = err(&GOOD.replace(
            "tenant_id = \"5200243\"",
            &format!("tenant_id = \"5200243\"\ntoken_env = {bad}"),
        ));
        assert!(e.contains("`loanpro.token_env`"), "{bad:?}: {e}");
    }
}

fn render(t: &InfoTemplate, v: &InfoValues) -> String {
    let mut out = String::new();
    t.render_into(&mut out, v);
    out
}

#[test]
fn info_template_is_checked_and_rendered() {
    assert!(InfoTemplate::parse("{date} {amount}").is_err());
    let t = InfoTemplate::parse("{date} {source} {reference}").unwrap();
    let v = InfoValues {
        date: "2026-11-20",
        source: "bank_csv",
        reference: "",
        file: "f.csv",
        line: 2,
    };
    assert_eq!(render(&t, &v), "2026-11-20 bank_csv");
    let t = InfoTemplate::parse("  {reference}\t{file}:{line}  ").unwrap();
    assert_eq!(render(&t, &v), "f.csv:2");
    let v = InfoValues {
        reference: "A\u{a0} B",
        ..v
    };
    assert_eq!(render(&t, &v), "A B f.csv:2");
    let mut out = String::from("kept  ");
    t.render_into(&mut out, &v);
    assert_eq!(out, "kept  A B f.csv:2", "only the appended part is folded");
}

#[test]
fn token_debug_is_redacted() {
    let t = Token::new("s3cret");
    assert!(!format!("{t:?}").contains("s3cret"));
}

/// GOOD with one more source, `[sources.NAME]` with `body`.
fn with_source(name: &str, body: &str) -> String {
    format!("{GOOD}\n[sources.{name}]\n{body}\n")
}

#[test]
fn each_format_keeps_its_own_keys() {
    let s = load(&with_source(
        "bank",
        "format = \"csv\"\ndelimiter = \";\"\ndate_formats = [\"%d.%m.%Y\"]",
    ))
    .unwrap();
    let SourceFormat::Csv {
        delimiter,
        date_formats,
        columns,
        ..
    } = &s.sources["bank"].format
    else {
        panic!("csv: {:?}", s.sources["bank"]);
    };
    assert_eq!(*delimiter, b';');
    assert_eq!(date_formats, &["%d.%m.%Y"]);
    assert_eq!(columns.loan, "loan");

    let s = load(&with_source(
        "lockbox",
        "format = \"lockbox\"\ncontrol_totals = \"warn\"\n[sources.lockbox.layout]\ndetail_amount = [8, 26]",
    ))
    .unwrap();
    let SourceFormat::Lockbox { layout, control } = &s.sources["lockbox"].format else {
        panic!("lockbox: {:?}", s.sources["lockbox"]);
    };
    assert_eq!(*control, ControlModes::from(ControlTotals::Warn));
    assert_eq!(layout.detail_amount, crate::read::lockbox::Span::new(8, 26));

    let s = load(&with_source(
        "ach",
        "format = \"bai2\"\ntype_codes = [165]\n[sources.ach.bai2]\nloan_from = \"bank_reference\"",
    ))
    .unwrap();
    let SourceFormat::Bai2 {
        type_codes,
        bai2,
        control,
        final_only,
        ..
    } = &s.sources["ach"].format
    else {
        panic!("bai2: {:?}", s.sources["ach"]);
    };
    assert_eq!(type_codes, &TypeCodes::of(&[165]));
    assert_eq!(bai2.loan_from, crate::read::bai2::LoanFrom::BankReference);
    assert_eq!(*control, ControlModes::default(), "enforce, the default");
    assert!(!final_only);
}

#[test]
fn bank_control_counts_final_only_and_type_code_ranges() {
    let s = load(&with_source(
        "ach",
        "format = \"bai2\"\ntype_codes = [\"165\", \"170-179\", 195]\ncontrol_counts = \"warn\"\nbai2_final_only = true",
    ))
    .unwrap();
    let SourceFormat::Bai2 {
        type_codes,
        control,
        final_only,
        ..
    } = &s.sources["ach"].format
    else {
        panic!("bai2: {:?}", s.sources["ach"]);
    };
    assert_eq!(type_codes.to_string(), "[165, 170-179, 195]");
    assert_eq!(
        *control,
        ControlModes {
            amounts: ControlTotals::Enforce,
            counts: ControlTotals::Warn
        }
    );
    assert!(final_only);
    // Without control_counts, counts follow control_totals.
    let s = load(&with_source(
        "lockbox",
        "format = \"lockbox\"\ncontrol_totals = \"warn\"",
    ))
    .unwrap();
    let SourceFormat::Lockbox { control, .. } = &s.sources["lockbox"].format else {
        panic!("lockbox");
    };
    assert_eq!(*control, ControlModes::from(ControlTotals::Warn));
    for (body, key, message) in [
        (
            "format = \"bai2\"\ntype_codes = [\"170-17x\"]",
            "sources.ach.type_codes",
            "\"170-17x\" is not a type code or a range of them; expected a number from 0 to 999 or a range such as \"170-179\"",
        ),
        (
            "format = \"bai2\"\ntype_codes = [1650]",
            "sources.ach.type_codes",
            "1650 is not a type code; type codes are from 0 to 999",
        ),
        (
            "format = \"csv\"\ncontrol_counts = \"warn\"",
            "sources.ach.control_counts",
            "unknown field `control_counts` for a csv source: it applies to lockbox and bai2 sources only",
        ),
        (
            "format = \"lockbox\"\nbai2_final_only = true",
            "sources.ach.bai2_final_only",
            "unknown field `bai2_final_only` for a lockbox source: it applies to bai2 sources only",
        ),
    ] {
        let e = err(&with_source("ach", body));
        assert!(e.contains(&format!("`{key}`: {message}")), "{e}");
    }
    let e = err(&with_source(
        "ach",
        "format = \"bai2\"\ntype_codes = [165]\ncontrol_counts = \"loose\"",
    ));
    assert!(e.contains("unknown variant `loose`"), "{e}");
}

#[test]
fn a_key_of_another_format_is_refused_by_its_full_name() {
    for (name, body, key, message) in [
        (
            "bank",
            "format = \"csv\"\ncontrol_counts = \"warn\"",
            "sources.bank.control_counts",
            "unknown field `control_counts` for a csv source: it applies to lockbox and bai2 sources only",
        ),
        (
            "bank",
            "format = \"csv\"\ntype_codes = [165]",
            "sources.bank.type_codes",
            "unknown field `type_codes` for a csv source: it applies to bai2 sources only",
        ),
        (
            "lockbox",
            "format = \"lockbox\"\ndate_formats = [\"%Y-%m-%d\"]",
            "sources.lockbox.date_formats",
            "unknown field `date_formats` for a lockbox source: it applies to csv sources only",
        ),
        (
            "lockbox",
            "format = \"lockbox\"\n[sources.lockbox.bai2]\nloan_from = \"text\"",
            "sources.lockbox.bai2",
            "unknown field `bai2` for a lockbox source: it applies to bai2 sources only",
        ),
        (
            "ach",
            "format = \"bai2\"\ntype_codes = [165]\ndelimiter = \";\"",
            "sources.ach.delimiter",
            "unknown field `delimiter` for a bai2 source: it applies to csv sources only",
        ),
        (
            "ach",
            "format = \"bai2\"\ntype_codes = [165]\n[sources.ach.layout]\ndetail_amount = [8, 17]",
            "sources.ach.layout",
            "unknown field `layout` for a bai2 source: it applies to lockbox sources only",
        ),
        (
            "ach",
            "format = \"bai2\"\ntype_codes = [165]\n[sources.ach.columns]\nloan = \"Loan\"",
            "sources.ach.columns",
            "unknown field `columns` for a bai2 source: it applies to csv sources only",
        ),
    ] {
        let e = err(&with_source(name, body));
        assert_eq!(
            e,
            format!("settings file /etc/payimport/payimport.toml: `{key}`: {message}"),
            "{body}"
        );
    }
}

#[test]
fn format_options_are_still_checked() {
    let e = err(&with_source("ach", "format = \"bai2\""));
    assert!(
        e.contains("`sources.ach.type_codes`: a bai2 source must list"),
        "{e}"
    );
    let e = err(&with_source("bank", "format = \"csv\"\ndelimiter = \";;\""));
    assert!(
        e.contains("`sources.bank.delimiter`: must be a single"),
        "{e}"
    );
    let e = err(&with_source("bank", "format = \"csv\"\ndate_formats = []"));
    assert!(
        e.contains("`sources.bank.date_formats`: needs at least one"),
        "{e}"
    );
    let e = err(&with_source(
        "lockbox",
        "format = \"lockbox\"\n[sources.lockbox.layout]\ndetail_amount = [0, 17]",
    ));
    assert!(
        e.contains("`sources.lockbox.layout`: `detail_amount`"),
        "{e}"
    );
    let e = err(&with_source(
        "ach",
        "format = \"bai2\"\ntype_codes = [165]\n[sources.ach.bai2]\nloan_from = \"text\"",
    ));
    assert!(
        e.contains("`sources.ach.bai2`: `loan_pattern` is required"),
        "{e}"
    );
}

#[test]
fn several_sources_need_a_choice() {
    let two = format!("{GOOD}\n[sources.other]\nformat = \"csv\"\n");
    let s = load(&two).unwrap();
    assert!(s.source(None).unwrap_err().contains("--source"));
    assert!(
        s.source(Some("nope"))
            .unwrap_err()
            .contains("bank_csv, other")
    );
}

/// A value of each format-specific key, as a source's TOML lines.
fn sample(key: &str) -> &'static str {
    match key {
        "delimiter" => "delimiter = \";\"",
        "columns" => "columns = { loan = \"Loan\" }",
        "date_formats" => "date_formats = [\"%d.%m.%Y\"]",
        "layout" => "layout = { detail_amount = [8, 17] }",
        "control_totals" => "control_totals = \"warn\"",
        "control_counts" => "control_counts = \"warn\"",
        "type_codes" => "type_codes = [165]",
        "bai2" => "bai2 = { loan_from = \"bank_reference\" }",
        "bai2_final_only" => "bai2_final_only = true",
        "kind" => "kind = \"returns\"",
        "return_type_codes" => "return_type_codes = [555]",
        "return_reference" => "return_reference = \"customer\"",
        "control_file" => "control_file = true",
        "loan_from" => "loan_from = [\"end_to_end_id\"]",
        "loan_pattern" => "loan_pattern = \"LOAN (\\\\d+)\"",
        "accounts" => "accounts = [\"123456789\"]",
        "bank_transaction_codes" => "bank_transaction_codes = [\"PMNT-RCDT-*\"]",
        "unit" => "unit = \"entry\"",
        other => panic!("give the new key `{other}` a sample value here"),
    }
}

#[test]
fn every_format_key_is_read_and_owned() {
    let raw: raw::RawSource = toml::from_str("format = \"csv\"").unwrap();
    let read: BTreeSet<&str> = raw.format_keys_set().iter().map(|(k, _)| *k).collect();
    let owned: BTreeSet<&str> = FORMATS
        .iter()
        .flat_map(|f| f.keys.iter().copied())
        .collect();
    assert_eq!(
        read, owned,
        "RawSource::format_keys_set and the formats' keys"
    );
    for key in read {
        // Each is a key of RawSource itself: set, it is seen as set.
        let raw: raw::RawSource = toml::from_str(&format!("format = \"csv\"\n{}", sample(key)))
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert!(
            raw.format_keys_set().contains(&(key, true)),
            "{key} is read into the field format_keys_set names it by"
        );
    }
}

#[test]
fn every_format_accepts_its_own_keys_and_refuses_the_others_by_name() {
    for format in FORMATS {
        // bai2 needs its type codes; the rest load with no key of their own.
        let base = if format.name == "bai2" {
            "format = \"bai2\"\ntype_codes = [165]".to_string()
        } else {
            format!("format = \"{}\"", format.name)
        };
        let s = load(&with_source("src", &base)).unwrap();
        assert_eq!(s.sources["src"].format.spec().name, format.name);
        for other in FORMATS.iter().flat_map(|f| f.keys.iter().copied()) {
            let text = with_source("src", &format!("{base}\n{}", sample(other)));
            if format.keys.contains(&other) {
                if other != "type_codes" {
                    assert!(load(&text).is_ok(), "{}: {other}", format.name);
                }
                continue;
            }
            let owners: Vec<&str> = FORMATS
                .iter()
                .filter(|f| f.keys.contains(&other))
                .map(|f| f.name)
                .collect();
            assert_eq!(
                err(&text),
                format!(
                    "settings file /etc/payimport/payimport.toml: `sources.src.{other}`: unknown field `{other}` for a {} source: it applies to {} sources only",
                    format.name,
                    owners.join(" and ")
                )
            );
        }
    }
    let e = err(&with_source("src", "format = \"xml\""));
    assert!(
        e.contains(
            "unknown variant `xml`, expected one of `csv`, `lockbox`, `bai2`, `nacha`, `camt`"
        ),
        "{e}"
    );
}

#[test]
fn a_date_format_that_cannot_read_a_date_is_refused() {
    for f in ["MM/DD/YYYY", "%m/%d", "%Y", "%d.%m", "%H:%M", "Date: %Y"] {
        let e = err(&with_source(
            "bank",
            &format!("format = \"csv\"\ndate_formats = [\"%Y-%m-%d\", \"{f}\"]"),
        ));
        assert_eq!(
            e,
            format!(
                "settings file /etc/payimport/payimport.toml: `sources.bank.date_formats`: {f:?} cannot read a date: a format needs a year, a month and a day as strftime fields, e.g. \"%m/%d/%Y\" for 11/20/2026"
            ),
            "{f}"
        );
    }
    for f in [
        "%m/%d/%Y",
        "%d.%m.%Y",
        "%Y%m%d",
        "%m/%d/%y",
        "%b %d, %Y",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %Z",
        "%Y-%j",
    ] {
        assert!(
            load(&with_source(
                "bank",
                &format!("format = \"csv\"\ndate_formats = [\"{f}\"]")
            ))
            .is_ok(),
            "{f}"
        );
    }
}
