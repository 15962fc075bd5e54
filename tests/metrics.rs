//! The metrics file (`--metrics-file`, `[metrics] textfile`): what node_exporter's textfile
//! collector reads after every `import` and `retry`, checked with a strict parser of the
//! Prometheus text exposition format (0.0.4), as `promtool check metrics` would.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::util::Env;

/// One parsed exposition: each series (name and sorted labels) with its value, and each
/// family's declared type.
#[derive(Debug, Default)]
pub struct Exposition {
    pub samples: BTreeMap<(String, Vec<(String, String)>), f64>,
    pub types: HashMap<String, String>,
}

impl Exposition {
    /// The value of the series `name` with exactly these labels.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.sort();
        self.samples.get(&(name.to_string(), labels)).copied()
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no series {name}{labels:?} in {:#?}", self.samples))
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s
            .parse()
            .map_err(|_| format!("{s:?} is not a sample value")),
    }
}

/// `{a="x",b="y"}` at the start of `s`: the labels and what follows the `}`.
type Labels = Vec<(String, String)>;

fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut rest = s.strip_prefix('{').expect("called on '{'");
    let mut labels = Vec::new();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("a label without `=`")?;
        let name = &rest[..eq];
        if !is_label_name(name) {
            return Err(format!("{name:?} is not a label name"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("a label value must be quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("an unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("a bad escape {other:?} in a label value")),
                },
                Some((_, '\n')) => return Err("a raw newline in a label value".into()),
                Some((_, c)) => value.push(c),
            }
        };
        if labels.iter().any(|(n, _)| n == name) {
            return Err(format!("label {name} given twice"));
        }
        labels.push((name.to_string(), value));
        rest = &rest[end + 1..];
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err("labels must be separated by `,`".into());
        }
    }
}

/// Parses the text format strictly: every line a `# HELP`, `# TYPE`, other comment or sample;
/// a family's TYPE and HELP at most once and before its samples; a family's samples together;
/// no series twice; the text ends with a newline.
pub fn parse_exposition(text: &str) -> Result<Exposition, String> {
    if !text.ends_with('\n') {
        return Err("the exposition must end with a newline".into());
    }
    let mut e = Exposition::default();
    let mut helps = HashSet::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let err = |m: String| format!("line {}: {m}: {line:?}", n + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    if !is_metric_name(name) {
                        return Err(err("a bad metric name".into()));
                    }
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(err(format!("unknown type {kind}")));
                    }
                    if e.types.contains_key(name) || finished.contains(name) {
                        return Err(err("TYPE again, or after the family's samples".into()));
                    }
                    e.types.insert(name.to_string(), kind.to_string());
                }
                (Some("HELP"), Some(name), _)
                    if !is_metric_name(name) || !helps.insert(name.to_string()) =>
                {
                    return Err(err("a bad or repeated HELP".into()));
                }
                (Some("HELP"), Some(_), _) => {}
                (Some("TYPE" | "HELP"), _, _) => return Err(err("an incomplete line".into())),
                _ => {}
            }
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| err("a sample without a value".into()))?;
        let name = &line[..name_end];
        if !is_metric_name(name) {
            return Err(err("a bad metric name".into()));
        }
        let (mut labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(err)?
        } else {
            (Vec::new(), &line[name_end..])
        };
        let rest = rest
            .strip_prefix(' ')
            .ok_or_else(|| err("a space must come before the value".into()))?;
        let mut fields = rest.split(' ');
        let value = parse_value(fields.next().unwrap_or("")).map_err(err)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .map_err(|_| err(format!("{ts:?} is not a timestamp")))?;
        }
        if fields.next().is_some() {
            return Err(err("more than a value and a timestamp".into()));
        }
        // The family: the name, or the name less a suffix its type allows.
        let family = ["_total", "_bucket", "_sum", "_count", ""]
            .iter()
            .find_map(|s| {
                let f = name.strip_suffix(s)?;
                e.types.contains_key(f).then(|| f.to_string())
            })
            .unwrap_or_else(|| name.to_string());
        if current.as_deref() != Some(&family) {
            if finished.contains(&family) {
                return Err(err(format!("samples of {family} are not together")));
            }
            if let Some(previous) = current.replace(family.clone()) {
                finished.insert(previous);
            }
        }
        labels.sort();
        if e.samples
            .insert((name.to_string(), labels), value)
            .is_some()
        {
            return Err(err("the same series twice".into()));
        }
    }
    Ok(e)
}

#[test]
fn the_strict_parser_refuses_what_promtool_refuses() {
    let good = "# HELP a_b An a.\n# TYPE a_b gauge\na_b{x=\"1\",y=\"q\\\"\"} 2.5\na_b 3\n";
    let e = parse_exposition(good).unwrap();
    assert_eq!(e.get("a_b", &[("y", "q\""), ("x", "1")]), Some(2.5));
    for bad in [
        "a_b 1",                                 // no final newline
        "a_b{x=\"1\"} 1\na_b{x=\"1\"} 2\n",      // the same series twice
        "a 1\nb 1\na 2\n",                       // a family split
        "# TYPE a gauge\n# TYPE a gauge\na 1\n", // TYPE twice
        "a{x=1} 1\n",                            // unquoted label value
        "a{x=\"1\" y=\"2\"} 1\n",                // no comma
        "a 1,5\n",                               // not a number
        "1a 1\n",                                // bad name
        "# TYPE a widget\na 1\n",                // unknown type
        "a{x=\"\\t\"} 1\n",                      // bad escape
        "a 1 2 3\n",                             // too many fields
    ] {
        assert!(parse_exposition(bad).is_err(), "accepted {bad:?}");
    }
}

fn read_metrics(path: &std::path::Path) -> Exposition {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no metrics file {}: {e}", path.display()));
    parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn rows(e: &Exposition, status: &str) -> f64 {
    e.value(
        "payimport_last_run_rows",
        &[("kind", "payment"), ("status", status)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_retry_write_metrics_with_a_last_success_that_survives_failures() {
    let env = Env::new().await;
    let prom = env.path("payimport.prom");
    let prom_arg = prom.to_str().unwrap();
    // Two posted, one refused by LoanPro (no loan 5000), one rejected.
    let file = env.write(
        "night1.csv",
        "loan,amount,date,reference\n1,10.00,2026-11-20,a\n2,2.50,2026-11-20,b\n5000,7.00,2026-11-20,c\nx,1.00,2026-11-20,d\n",
    );
    let r = env
        .run(&["--metrics-file", prom_arg, "import", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let m = read_metrics(&prom);
    assert_eq!(m.types["payimport_last_run_rows"], "gauge");
    assert_eq!(rows(&m, "posted"), 2.0);
    assert_eq!(rows(&m, "failed"), 1.0);
    assert_eq!(rows(&m, "rejected"), 1.0);
    assert_eq!(rows(&m, "unknown"), 0.0, "every status is there, zeros too");
    assert_eq!(
        m.value(
            "payimport_last_run_amount_cents",
            &[("kind", "payment"), ("status", "posted")]
        ),
        1250.0
    );
    assert_eq!(
        m.value("payimport_last_run_requests", &[("code", "200")]),
        2.0
    );
    assert_eq!(
        m.value("payimport_last_run_requests", &[("code", "409")]),
        1.0
    );
    assert_eq!(m.value("payimport_last_run_exit_code", &[]), 1.0);
    assert_eq!(m.value("payimport_last_run_id", &[]), 1.0);
    assert_eq!(
        m.value(
            "payimport_last_run_info",
            &[("command", "import"), ("source", "")]
        ),
        1.0
    );
    let duration = m.value("payimport_last_run_duration_seconds", &[]);
    assert!(duration > 0.0 && duration < 60.0, "{duration}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last_run = m.value("payimport_last_run_timestamp_seconds", &[]);
    assert!((now - last_run).abs() < 60.0, "{last_run} vs {now}");
    assert_eq!(
        m.value("payimport_last_success_timestamp_seconds", &[]),
        0.0,
        "no run has fully succeeded yet"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&prom).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "node_exporter runs as its own user");
    }

    // A clean night: exit 0, and the last success is this run.
    let file = env.write(
        "night2.csv",
        "loan,amount,date,reference\n3,4.00,2026-11-21,e\n",
    );
    let r = env
        .run(&["--metrics-file", prom_arg, "import", file.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let m = read_metrics(&prom);
    let success = m.value("payimport_last_success_timestamp_seconds", &[]);
    assert_eq!(
        success,
        m.value("payimport_last_run_timestamp_seconds", &[])
    );
    assert_eq!(rows(&m, "posted"), 1.0);
    assert_eq!(rows(&m, "failed"), 0.0, "the last run's rows only");

    // A run refused by LoanPro (wrong token): exit 2, written all the same, success carried over.
    let file = env.write(
        "night3.csv",
        "loan,amount,date,reference\n4,5.00,2026-11-22,f\n",
    );
    let r = env
        .run_with_token(
            "wrong",
            &["--metrics-file", prom_arg, "import", file.to_str().unwrap()],
        )
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let m = read_metrics(&prom);
    assert_eq!(m.value("payimport_last_run_exit_code", &[]), 2.0);
    assert_eq!(
        m.value("payimport_last_run_requests", &[("code", "401")]),
        1.0
    );
    assert_eq!(rows(&m, "unsent"), 1.0);
    assert_eq!(
        m.value("payimport_last_success_timestamp_seconds", &[]),
        success
    );

    // Without the previous file, the ledger still knows the last fully successful run (2).
    std::fs::remove_file(&prom).unwrap();
    let r = env
        .run_with_token("wrong", &["--metrics-file", prom_arg, "retry"])
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let m = read_metrics(&prom);
    assert_eq!(
        m.value(
            "payimport_last_run_info",
            &[("command", "retry"), ("source", "")]
        ),
        1.0
    );
    let derived = m.value("payimport_last_success_timestamp_seconds", &[]);
    assert!(
        derived > 0.0 && (derived - success).abs() < 5.0,
        "{derived} vs {success}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_name_the_textfile_strictly() {
    let env = Env::new().await;
    let settings = std::fs::read_to_string(&env.settings).unwrap();
    env.add_settings("\n[metrics]\ntextfile = \"payimport.prom\"\n");
    let file = env.write(
        "bank.csv",
        "loan,amount,date,reference\n1,10.00,2026-11-20,a\n",
    );
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // Relative to the settings file's folder, like the ledger.
    let m = read_metrics(&env.path("payimport.prom"));
    assert_eq!(rows(&m, "posted"), 1.0);

    // An unknown key is refused like everywhere else in the settings...
    std::fs::write(
        &env.settings,
        format!("{settings}\n[metrics]\ntext_file = \"payimport.prom\"\n"),
    )
    .unwrap();
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("text_file"), "{}", r.stderr);
    // ...and a file the collector would never read, too.
    std::fs::write(
        &env.settings,
        format!("{settings}\n[metrics]\ntextfile = \"payimport.txt\"\n"),
    )
    .unwrap();
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("metrics.textfile") && r.stderr.contains(".prom"),
        "{}",
        r.stderr
    );
    // Settings refused, but --metrics-file given: the failure is still reported.
    let prom = env.path("refused.prom");
    let r = env
        .run(&[
            "--metrics-file",
            prom.to_str().unwrap(),
            "import",
            file.to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 2);
    let m = read_metrics(&prom);
    assert_eq!(m.value("payimport_last_run_exit_code", &[]), 2.0);
    assert_eq!(m.value("payimport_last_run_id", &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_are_counted_under_their_own_kind() {
    let env = Env::new().await;
    env.add_settings(
        "\n[sources.returns_csv]\nformat = \"csv\"\nkind = \"returns\"\nloan = \"id\"\n",
    );
    let prom = env.path("payimport.prom");
    let prom_arg = prom.to_str().unwrap();
    let payments = env.write(
        "night.csv",
        "loan,amount,date,reference\n1,10.00,2026-11-20,a\n",
    );
    let r = env
        .run(&[
            "--metrics-file",
            prom_arg,
            "import",
            "--source",
            "bank_csv",
            payments.to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let returns = env.write(
        "returns.csv",
        "loan,amount,date,return_code\n1,10.00,2026-11-21,R01\n",
    );
    let r = env
        .run(&[
            "--metrics-file",
            prom_arg,
            "import",
            "--source",
            "returns_csv",
            returns.to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let m = read_metrics(&prom);
    let row = |kind, status| {
        m.value(
            "payimport_last_run_rows",
            &[("kind", kind), ("status", status)],
        )
    };
    assert_eq!(row("return", "posted"), 1.0);
    assert_eq!(row("payment", "posted"), 0.0, "a reversal is no payment");
    assert_eq!(
        m.value(
            "payimport_last_run_amount_cents",
            &[("kind", "return"), ("status", "posted")]
        ),
        1000.0
    );
}
