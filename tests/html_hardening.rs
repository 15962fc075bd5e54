//! The HTML report shows what a value holds (docs/loanpro.md): a bidirectional override or another
//! invisible character is written out, and the page forbids scripts and network loads.

use crate::util::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidi_overrides_are_made_visible_and_the_page_carries_a_csp() {
    let env = Env::new().await;
    // "bank\u{202e}vsc.exe" shows as "bankexe.csv" where the override is obeyed.
    let name = "bank\u{202e}vsc.exe";
    let file = env.write(
        name,
        "loan,amount,date,reference\n1,10.00,2026-11-20,a\n7\u{2066}0\u{200b},1.00,2026-11-20,b\n",
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
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(&page).unwrap();
    for c in ['\u{202e}', '\u{2066}', '\u{200b}'] {
        assert!(!html.contains(c), "U+{:04X} is shown as is", c as u32);
    }
    assert!(
        html.contains("bank\\u202evsc.exe"),
        "the file name, visibly"
    );
    assert!(html.contains("7\\u20660\\u200b"), "the loan, visibly");
    let csp = html
        .split("<meta http-equiv=\"Content-Security-Policy\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a Content-Security-Policy meta tag");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        !csp.contains("script-src"),
        "no script source allowed: {csp}"
    );
    // It applies before anything else in the page could load.
    assert!(
        html.find("Content-Security-Policy").unwrap() < html.find("<style").unwrap(),
        "the policy comes first"
    );
}
