//! Inline SVG charts: line/area, horizontal bars, histograms and a Gantt
//! strip, drawn server-side so the page needs no library and no network.
//! Every mark carries a `<title>`, which browsers show on hover.

use std::fmt::Write as _;

/// Plot area geometry.
const W: f64 = 640.0;
const H: f64 = 240.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

/// The series palette (colour-blind safe).
pub const COLORS: [&str; 6] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00",
];

/// Escapes text for HTML and SVG.
#[must_use]
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The round step (1, 2, 2.5 or 5 times a power of ten) that cuts `span`
/// into at most about `n` parts.
fn tick_step(span: f64, n: usize) -> f64 {
    let magnitude = 10f64.powf((span / n.max(1) as f64).log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| span / s <= n as f64)
        .unwrap_or(10.0 * magnitude)
}

/// Round tick values covering `[lo, hi]`, about `n` of them.
#[must_use]
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let step = tick_step((hi - lo).max(f64::EPSILON), n);
    let first = (lo / step).floor() * step;
    let mut out = Vec::new();
    let mut v = first;
    while v <= hi + step * 1e-9 {
        if v >= lo - step * 1e-9 {
            out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        }
        v += step;
    }
    out
}

/// The top of a value axis that holds `hi`: the first round tick (of the
/// steps [`ticks`] uses for about `n` of them) at or above it, so the
/// largest value is always drawn inside the chart.
#[must_use]
pub fn nice_top(hi: f64, n: usize) -> f64 {
    let hi = if hi.is_finite() && hi > 0.0 { hi } else { 1.0 };
    let step = tick_step(hi, n);
    (hi / step - 1e-9).ceil().max(1.0) * step
}

/// A short number for an axis.
#[must_use]
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        significant(v, 3)
    }
}

/// `v` (below 1 in magnitude) with `digits` significant digits, trailing
/// zeros dropped: 0.0133, 0.25, 0.000412.
#[must_use]
pub fn significant(v: f64, digits: usize) -> String {
    let a = v.abs();
    if a == 0.0 || !a.is_finite() {
        return format!("{v}");
    }
    let decimals = ((-a.log10().floor()) as usize + digits - 1).min(12);
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    /// Where the plot starts (room for y ticks, or row labels).
    left: f64,
    /// The chart's whole height.
    h: f64,
}

impl Frame {
    /// The usual frame: value axis ticks on the left, height [`H`].
    fn new(x0: f64, x1: f64, y0: f64, y1: f64) -> Self {
        Frame {
            x0,
            x1,
            y0,
            y1,
            left: LEFT,
            h: H,
        }
    }

    fn x(&self, v: f64) -> f64 {
        self.left + (v - self.x0) / (self.x1 - self.x0).max(f64::EPSILON) * (W - self.left - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        self.h
            - BOTTOM
            - (v - self.y0) / (self.y1 - self.y0).max(f64::EPSILON) * (self.h - TOP - BOTTOM)
    }

    fn axes(&self, out: &mut String, x_label: &str, y_label: &str) {
        // No y label: a strip without a value axis (the Gantt chart).
        let y_ticks = if y_label.is_empty() {
            Vec::new()
        } else {
            ticks(self.y0, self.y1, 5)
        };
        for t in y_ticks {
            let y = self.y(t);
            let _ = write!(
                out,
                r##"<line class="grid" x1="{left}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{tx}" y="{ty:.1}" text-anchor="end">{label}</text>"##,
                x2 = W - RIGHT,
                tx = self.left - 6.0,
                left = self.left,
                ty = y + 4.0,
                label = short(t)
            );
        }
        for t in ticks(self.x0, self.x1, 8) {
            let x = self.x(t);
            let _ = write!(
                out,
                r##"<line class="axis" x1="{x:.1}" x2="{x:.1}" y1="{y0}" y2="{y1}"/><text class="tick" x="{x:.1}" y="{ty}" text-anchor="middle">{label}</text>"##,
                y0 = self.h - BOTTOM,
                y1 = self.h - BOTTOM + 4.0,
                ty = self.h - BOTTOM + 16.0,
                label = short(t)
            );
        }
        let _ = write!(
            out,
            r##"<line class="axis" x1="{left}" x2="{x2}" y1="{y}" y2="{y}"/><text class="label" x="{cx}" y="{ly}" text-anchor="middle">{xl}</text><text class="label" transform="translate(14 {cy}) rotate(-90)" text-anchor="middle">{yl}</text>"##,
            left = self.left,
            x2 = W - RIGHT,
            y = self.h - BOTTOM,
            cx = (self.left + W - RIGHT) / 2.0,
            ly = self.h - 6.0,
            cy = (TOP + self.h - BOTTOM) / 2.0,
            xl = esc(x_label),
            yl = esc(y_label),
        );
    }
}

fn open(id: &str, title: &str) -> String {
    open_sized(id, title, H)
}

fn open_sized(id: &str, title: &str, height: f64) -> String {
    format!(
        r##"<figure class="chart" data-chart="{id}"><figcaption>{t}</figcaption><svg viewBox="0 0 {W} {height}" role="img" aria-label="{t}">"##,
        t = esc(title)
    )
}

fn close(out: &mut String, legend: &[(String, &str)]) {
    out.push_str("</svg>");
    if !legend.is_empty() {
        out.push_str(r#"<div class="legend">"#);
        for (name, color) in legend {
            let _ = write!(
                out,
                r#"<span><i style="background:{color}"></i>{}</span>"#,
                esc(name)
            );
        }
        out.push_str("</div>");
    }
    out.push_str("</figure>");
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// `(x, y)` points, x ascending.
    pub points: Vec<(f64, f64)>,
    /// Fill the area under the line.
    pub area: bool,
}

/// A line chart of `series` (sharing one y axis).
#[must_use]
pub fn line_chart(
    id: &str,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> String {
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    let f = Frame::new(
        x0,
        if x1 > x0 { x1 } else { x0 + 1.0 },
        0.0,
        nice_top(y1.max(1.0), 5),
    );
    let mut out = open(id, title);
    f.axes(&mut out, x_label, y_label);
    let mut legend = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        legend.push((s.name.clone(), color));
        if s.points.is_empty() {
            continue;
        }
        let path: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", f.x(x), f.y(y)))
            .collect();
        if s.area {
            let _ = write!(
                out,
                r#"<polygon class="area" fill="{color}" points="{:.1},{:.1} {} {:.1},{:.1}"/>"#,
                f.x(s.points[0].0),
                f.y(0.0),
                path.join(" "),
                f.x(s.points[s.points.len() - 1].0),
                f.y(0.0)
            );
        }
        let _ = write!(
            out,
            r#"<polyline class="line" stroke="{color}" points="{}"><title>{}</title></polyline>"#,
            path.join(" "),
            esc(&s.name)
        );
        // Hover points, thinned to about 120 per series.
        let every = (s.points.len() / 120).max(1);
        for &(x, y) in s.points.iter().step_by(every) {
            let _ = write!(
                out,
                r#"<circle class="dot" cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{}: {} at {}</title></circle>"#,
                f.x(x),
                f.y(y),
                esc(&s.name),
                short(y),
                short(x)
            );
        }
    }
    close(&mut out, &legend);
    out
}

/// Horizontal bars: `(label, value, tooltip)`, coloured in order.
#[must_use]
pub fn bars(id: &str, title: &str, unit: &str, rows: &[(String, f64, String)]) -> String {
    let max = rows
        .iter()
        .map(|r| r.1)
        .fold(0.0f64, f64::max)
        .max(f64::EPSILON);
    let row_h = 26.0;
    let height = TOP + rows.len() as f64 * row_h + 24.0;
    let label_w = 170.0;
    let width = W - label_w - RIGHT - 60.0;
    let mut out = format!(
        r##"<figure class="chart" data-chart="{id}"><figcaption>{t}</figcaption><svg viewBox="0 0 {W} {height}" role="img" aria-label="{t}">"##,
        t = esc(title)
    );
    for (i, (label, value, tip)) in rows.iter().enumerate() {
        let y = TOP + i as f64 * row_h;
        let w = (value / max * width).max(1.0);
        let _ = write!(
            out,
            r##"<text class="tick" x="{lx}" y="{ty:.1}" text-anchor="end">{l}</text><rect class="bar" x="{label_w}" y="{y:.1}" width="{w:.1}" height="{bh}" fill="{c}"><title>{tip}</title></rect><text class="tick" x="{vx:.1}" y="{ty:.1}">{v} {unit}</text>"##,
            lx = label_w - 8.0,
            ty = y + 15.0,
            l = esc(label),
            bh = row_h - 8.0,
            c = COLORS[i % COLORS.len()],
            tip = esc(tip),
            vx = label_w + w + 6.0,
            v = short(*value),
            unit = esc(unit),
        );
    }
    out.push_str("</svg></figure>");
    out
}

/// A histogram of `(from, to, count)` bins with vertical markers
/// `(x, label)` (percentiles).
#[must_use]
pub fn histogram(
    id: &str,
    title: &str,
    x_label: &str,
    bins: &[(f64, f64, u64)],
    markers: &[(f64, String)],
) -> String {
    let x0 = bins.first().map_or(0.0, |b| b.0);
    let x1 = bins.last().map_or(1.0, |b| b.1);
    let top = bins.iter().map(|b| b.2).max().unwrap_or(1).max(1) as f64;
    let f = Frame::new(
        x0,
        if x1 > x0 { x1 } else { x0 + 1.0 },
        0.0,
        nice_top(top, 5),
    );
    let mut out = open(id, title);
    f.axes(&mut out, x_label, "count");
    for &(from, to, count) in bins {
        let (xa, xb) = (f.x(from), f.x(to));
        let y = f.y(count as f64);
        let _ = write!(
            out,
            r#"<rect class="bar" x="{xa:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{c}"><title>{} to {}: {count}</title></rect>"#,
            short(from),
            short(to),
            w = (xb - xa - 0.5).max(0.5),
            h = (f.y(0.0) - y).max(0.0),
            c = COLORS[0],
        );
    }
    // Markers as dashed lines over the plot, their names in the margin
    // above it (moved apart when markers are close), their values in the
    // legend: labels never cover bars or each other.
    let mut legend = Vec::new();
    let mut next_free = f64::NEG_INFINITY;
    for (i, (x, label)) in markers.iter().enumerate() {
        let color = MARKER_COLORS[i % MARKER_COLORS.len()];
        let px = f.x(x.clamp(f.x0, f.x1));
        let name = label.split_whitespace().next().unwrap_or(label);
        // Left-aligned from half a label before its marker, after the
        // previous label with a gap.
        let width = 7.0 * name.len() as f64;
        let tx = (px - width / 2.0).max(next_free);
        next_free = tx + width + 6.0;
        let _ = write!(
            out,
            r#"<line class="marker" stroke="{color}" x1="{px:.1}" x2="{px:.1}" y1="{TOP}" y2="{y2}"><title>{l}</title></line><text class="tick marker-label" fill="{color}" x="{tx:.1}" y="{ty}" text-anchor="start">{n}</text>"#,
            y2 = H - BOTTOM,
            ty = TOP - 4.0,
            l = esc(label),
            n = esc(name),
        );
        legend.push((label.clone(), color));
    }
    close(&mut out, &legend);
    out
}

/// Colours of histogram markers (percentiles), after the bars' blue.
const MARKER_COLORS: [&str; 3] = ["#d55e00", "#cc79a7", "#000000"];

/// One bar of a Gantt strip: label, waiting from `queued`, running from
/// `start` to `end` (ms).
#[derive(Debug, Clone)]
pub struct Span {
    /// The job.
    pub label: String,
    /// Dispatched (waiting starts).
    pub queued: f64,
    /// Started.
    pub start: f64,
    /// Completed.
    pub end: f64,
}

/// Height of one Gantt row, and the room for row labels on its left.
const GANTT_ROW: f64 = 14.0;
const GANTT_LABELS: f64 = 150.0;

/// A Gantt strip of `spans` along one time axis (seconds): one labelled
/// row per span, the chart as tall as its rows need.
#[must_use]
pub fn gantt(id: &str, title: &str, spans: &[Span]) -> String {
    let x0 = spans
        .iter()
        .map(|s| s.queued.min(s.start))
        .fold(f64::INFINITY, f64::min);
    let x1 = spans
        .iter()
        .map(|s| s.end)
        .fold(f64::NEG_INFINITY, f64::max);
    let (x0, x1) = if x0.is_finite() && x1 > x0 {
        (x0 / 1e3, x1 / 1e3)
    } else {
        (0.0, 1.0)
    };
    let height = TOP + spans.len().max(1) as f64 * GANTT_ROW + BOTTOM;
    let f = Frame {
        x0,
        x1,
        y0: 0.0,
        y1: 1.0,
        left: GANTT_LABELS,
        h: height,
    };
    let mut out = open_sized(id, title, height);
    f.axes(&mut out, "seconds since the run started", "");
    for (i, s) in spans.iter().enumerate() {
        let y = TOP + i as f64 * GANTT_ROW;
        let h = GANTT_ROW - 2.0;
        let (q, a, b) = (f.x(s.queued / 1e3), f.x(s.start / 1e3), f.x(s.end / 1e3));
        let label = if s.label.chars().count() > 22 {
            format!("{}…", s.label.chars().take(21).collect::<String>())
        } else {
            s.label.clone()
        };
        let _ = write!(
            out,
            r#"<text class="tick" x="{lx}" y="{ty:.1}" text-anchor="end">{l}<title>{full}</title></text><rect class="wait" x="{q:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}"><title>{full}: queued {:.0} ms</title></rect><rect class="bar" x="{a:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{full}: ran {:.0} ms</title></rect>"#,
            (a - q).max(0.0),
            s.start - s.queued,
            (b - a).max(1.0),
            COLORS[2],
            s.end - s.start,
            lx = GANTT_LABELS - 6.0,
            ty = y + h - 2.0,
            l = esc(&label),
            full = esc(&s.label),
        );
    }
    close(
        &mut out,
        &[
            ("waiting in the queue".to_owned(), "#c8c8c8"),
            ("processing".to_owned(), COLORS[2]),
        ],
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_top_is_a_round_value_at_or_above_the_data() {
        for hi in [
            1.0, 7.0, 9.9, 10.0, 10.1, 1_080.0, 1_212.0, 8_700.0, 0.013, 123_456.0,
        ] {
            let top = nice_top(hi, 5);
            assert!(top >= hi, "{hi} -> {top}");
            assert!(top <= hi * 2.5 + 1e-9, "{hi} -> {top}: too much headroom");
            assert!(
                ticks(0.0, top, 5)
                    .last()
                    .is_some_and(|&t| (t - top).abs() < 1e-9)
            );
        }
        assert_eq!(nice_top(1_212.0, 5), 1_250.0);
        assert_eq!(nice_top(10.0, 5), 10.0);
    }

    #[test]
    fn small_numbers_keep_their_significant_digits() {
        assert_eq!(short(0.0133), "0.0133");
        assert_eq!(short(0.25), "0.25");
        assert_eq!(short(0.5), "0.5");
        assert_eq!(significant(0.000_412_3, 3), "0.000412");
        assert_eq!(short(1_212.0), "1212");
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 10.0, 5), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(0.0, 1000.0, 4), [0.0, 250.0, 500.0, 750.0, 1000.0]);
        let t = ticks(3.2, 97.0, 5);
        assert!(t.first().unwrap() >= &3.2 && t.last().unwrap() <= &97.0);
        assert!(t.windows(2).all(|w| w[1] > w[0]));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let chart = bars("b", "<t>", "ms", &[("<x>".into(), 1.0, "<y>".into())]);
        assert!(!chart.contains("<x>") && !chart.contains("<t>") && !chart.contains("<y>"));
    }

    #[test]
    fn charts_draw_one_mark_per_datum() {
        let h = histogram(
            "h",
            "H",
            "min",
            &[(0.0, 5.0, 3), (5.0, 10.0, 1)],
            &[(4.0, "p50".into())],
        );
        assert_eq!(h.matches("<rect").count(), 2);
        assert!(h.contains("data-chart=\"h\"") && h.contains("p50"));
        let l = line_chart(
            "l",
            "L",
            "s",
            "jobs",
            &[Series {
                name: "done".into(),
                points: vec![(0.0, 0.0), (1.0, 5.0), (2.0, 9.0)],
                area: true,
            }],
        );
        assert_eq!(l.matches("<circle").count(), 3);
        assert_eq!(l.matches("<polygon").count(), 1);
        let g = gantt(
            "g",
            "G",
            &[Span {
                label: "a".into(),
                queued: 0.0,
                start: 10.0,
                end: 50.0,
            }],
        );
        assert_eq!(g.matches("<rect").count(), 2);
    }
}

/// One point of a scatter chart.
#[derive(Debug, Clone)]
pub struct Point {
    /// Its tooltip's name.
    pub label: String,
    /// Its legend group (one colour per group, in order of appearance).
    pub group: String,
    pub x: f64,
    pub y: f64,
}

/// A scatter chart of `points`, with `front` (x ascending) joined by a
/// dashed line.
#[must_use]
pub fn scatter(
    id: &str,
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[Point],
    front: &[(f64, f64)],
) -> String {
    let x1 = points.iter().map(|p| p.x).fold(0.0f64, f64::max);
    let y1 = points.iter().map(|p| p.y).fold(0.0f64, f64::max);
    let f = Frame::new(
        0.0,
        nice_top(if x1 > 0.0 { x1 } else { 1.0 }, 8),
        0.0,
        nice_top(if y1 > 0.0 { y1 } else { 1.0 }, 5),
    );
    let mut out = open(id, title);
    f.axes(&mut out, x_label, y_label);
    if front.len() > 1 {
        let path: Vec<String> = front
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", f.x(x), f.y(y)))
            .collect();
        let _ = write!(
            out,
            r##"<polyline class="line front" stroke="#555" stroke-dasharray="4 3" points="{}"><title>Pareto front</title></polyline>"##,
            path.join(" ")
        );
    }
    let mut groups: Vec<&str> = Vec::new();
    for p in points {
        let g = match groups.iter().position(|g| *g == p.group) {
            Some(g) => g,
            None => {
                groups.push(&p.group);
                groups.len() - 1
            }
        };
        let _ = write!(
            out,
            r#"<circle class="dot" cx="{:.1}" cy="{:.1}" r="5" fill="{}"><title>{}: {} at {}</title></circle>"#,
            f.x(p.x),
            f.y(p.y),
            COLORS[g % COLORS.len()],
            esc(&p.label),
            short(p.y),
            short(p.x)
        );
    }
    let legend: Vec<(String, &str)> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| ((*g).to_owned(), COLORS[i % COLORS.len()]))
        .collect();
    close(&mut out, &legend);
    out
}
