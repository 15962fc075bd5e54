//! `report --format html` rendered in a real browser: headless Chromium loads the file, and the
//! rendered DOM must carry the totals and every row that needs attention, escaped, and the
//! screenshot must show something (more than one colour).
//!
//! Chromium is required: CI installs it (`.ci/run`); without it this test fails, saying so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::Env;

/// Debian's Chromium, or a failure that says how to get it.
fn chromium() -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join("chromium");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "chromium is not installed, and this test renders the HTML report in a real browser: \
         install it with `apt-get install -y chromium` (.ci/run does this in CI)"
    );
}

/// Runs headless Chromium on `page` with `args`, with a profile of its own and nothing
/// fetched in the background; returns its stdout.
async fn headless(page: &Path, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut c = tokio::process::Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .arg(format!("file://{}", page.display()))
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), c.output())
        .await
        .expect("chromium finishes within 2 minutes")
        .expect("chromium starts");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How many distinct colours a PNG has (up to `limit`).
fn colours(png_path: &Path, limit: usize) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let channels = info.color_type.samples();
    let mut seen = std::collections::HashSet::new();
    for px in bytes.chunks(channels) {
        seen.insert(px.to_vec());
        if seen.len() >= limit {
            break;
        }
    }
    seen.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_renders_in_a_browser_with_totals_and_attention_rows() {
    let env = Env::new().await;
    // Two posted, one refused by LoanPro (no loan 5000), one rejected whose loan is markup.
    let file = env.write(
        "night.csv",
        "loan,amount,date,reference\n1,10.00,2026-11-20,a\n2,2.50,2026-11-21,b\n5000,7.00,2026-11-21,c\n<b>x</b>,1.00,2026-11-21,d\n",
    );
    let r = env.run(&["import", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let page = env.path("night.html");
    let r = env
        .run(&[
            "report",
            "--format",
            "html",
            "--output",
            page.to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing to fetch, nothing to run.
    for external in [
        "<script", "<link", "src=", "@import", "url(", "http://", "https://",
    ] {
        let allowed = external == "http://"
            && html.matches(external).count() == html.matches("http://www.w3.org/2000/svg").count();
        assert!(
            !html.contains(external) || allowed,
            "the page refers to {external}"
        );
    }

    let dom = headless(&page, &["--dump-dom"]).await;
    // The totals, as the browser rendered them.
    for (status, rows, amount) in [
        ("posted", 2, "12.50"),
        ("failed", 1, "7.00"),
        ("rejected", 1, "0.00"),
    ] {
        let row = format!("<tr data-status=\"{status}\"><td><span class=\"badge");
        let at = dom
            .find(&row)
            .unwrap_or_else(|| panic!("no {status} total in {dom}"));
        let cells = &dom[at..at + 300];
        assert!(
            cells.contains(&format!(">{rows}</td>")) && cells.contains(&format!(">{amount}</td>")),
            "{status}: {cells}"
        );
    }
    // A rejected row's amount counts nothing: it was never a valid payment.
    assert!(
        dom.contains("<td>total</td><td class=\"num\">4</td><td class=\"num\">19.50</td>"),
        "{dom}"
    );
    assert!(dom.contains("2 row(s) need attention"), "{dom}");
    // Every attention row, with its message and what to do.
    let report = env.report(&[]).await;
    for rec in report
        .iter()
        .filter(|r| ["failed", "rejected"].contains(&r.get("status")))
    {
        let key = rec.get("key");
        let at = dom
            .find(&format!("data-key=\"{key}\""))
            .unwrap_or_else(|| panic!("attention row {key} missing"));
        let row = &dom[at..dom[at..].find("</tr>").map(|e| at + e).unwrap()];
        let (message, to_do) = match rec.get("status") {
            "failed" => ("Loan 5000 not found", "then `payimport retry KEY`"),
            _ => ("field `loan`", "`payimport amend KEY --loan ID`"),
        };
        assert!(row.contains(message) && row.contains(to_do), "{row}");
    }
    assert!(dom.contains("Loan 5000 not found"), "{dom}");
    assert!(dom.contains("payimport retry KEY"), "{dom}");
    // The markup in the loan column is text, not an element.
    assert!(dom.contains("&lt;b&gt;x&lt;/b&gt;"), "{dom}");
    assert!(!dom.contains("<b>x</b>"), "{dom}");
    // The charts are there.
    assert_eq!(dom.matches("<svg").count(), 2, "{dom}");

    // The screenshot is not blank; kept where a person can look at it.
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-html.png");
    let _ = std::fs::remove_file(&shot);
    headless(
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,1600",
        ],
    )
    .await;
    let n = colours(&shot, 64);
    assert!(n > 8, "the screenshot has {n} colour(s): blank");
    eprintln!("screenshot: {}", shot.display());
}
