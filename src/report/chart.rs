//! Horizontal bar charts as inline SVG, for the HTML report: no script, no font, no network, so
//! the page renders the same in a mail client as in a browser. Built with maud, so every label
//! is escaped.

use maud::{Markup, html};

/// One bar: its label, its segments (value and CSS class, drawn left to right), and the text
/// shown after it.
pub struct Bar {
    pub label: String,
    pub segments: Vec<(i64, &'static str)>,
    pub note: String,
}

const ROW: i64 = 26;
const LABEL_WIDTH: i64 = 170;
const BAR_WIDTH: i64 = 420;
const NOTE_WIDTH: i64 = 330;

/// A chart of `bars`, each scaled against the longest; `title` is read out by screen readers.
pub fn bar_chart(title: &str, bars: &[Bar]) -> Markup {
    let max = bars
        .iter()
        .map(|b| b.segments.iter().map(|(v, _)| (*v).max(0)).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let width = LABEL_WIDTH + BAR_WIDTH + NOTE_WIDTH;
    let height = ROW * bars.len() as i64 + 4;
    html! {
        svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"
            viewBox=(format!("0 0 {width} {height}")) width=(width) height=(height) {
            title { (title) }
            @for (i, bar) in bars.iter().enumerate() {
                @let y = ROW * i as i64 + 2;
                text x=(LABEL_WIDTH - 8) y=(y + 17) text-anchor="end" class="label" { (bar.label) }
                @let (rects, end) = layout(bar, max);
                @for (x, w, class) in rects {
                    rect x=(x) y=(y) width=(w) height=(ROW - 6) class=(class) {}
                }
                text x=(end + 6) y=(y + 17) class="note" { (bar.note) }
            }
        }
    }
}

/// Each segment's start, length and class, and where the bar ends.
fn layout(bar: &Bar, max: i64) -> (Vec<(i64, i64, &'static str)>, i64) {
    let mut x = LABEL_WIDTH;
    let rects = bar
        .segments
        .iter()
        .map(|(value, class)| {
            let w = scale(*value, max);
            x += w;
            (x - w, w, *class)
        })
        .collect();
    (rects, x)
}

/// A value's bar length: proportional, and at least a sliver when it is not zero, so a small
/// amount is still seen.
fn scale(value: i64, max: i64) -> i64 {
    if value <= 0 {
        return 0;
    }
    ((value as i128 * BAR_WIDTH as i128 / max as i128) as i64).max(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_and_labels_are_escaped() {
        let svg = bar_chart(
            "t",
            &[
                Bar {
                    label: "<posted>".into(),
                    segments: vec![(100, "ok")],
                    note: "1 row".into(),
                },
                Bar {
                    label: "failed".into(),
                    segments: vec![(1, "bad")],
                    note: "&".into(),
                },
            ],
        )
        .into_string();
        assert!(svg.contains("&lt;posted&gt;"), "{svg}");
        assert!(svg.contains("&amp;"), "{svg}");
        assert!(svg.contains(&format!("width=\"{BAR_WIDTH}\"")), "{svg}");
        assert!(svg.contains("width=\"4\""), "a sliver at least: {svg}");
        assert_eq!(scale(0, 10), 0);
    }
}
