//! The `--svg` chart, written by hand (no font or system dependencies):
//! throughput bars and server-CPU-per-request bars with min–max whiskers,
//! and latency percentiles per row on a log scale, each panel with a title,
//! named axes and units, so that it reads without the table.

mod writer;

use crate::cli::Service;
use crate::plan::Plan;
use crate::report::Machine;
use crate::results::{self, RowSummary, PERCENTILES};
use crate::stats::Spread;
use crate::units::{group_thousands, latency, sig3};
use writer::Svg;

const WIDTH: f64 = 1000.0;
const FONT: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";
const ROW_HEIGHT: f64 = 34.0;
const LABEL_WIDTH: f64 = 105.0;

/// The chart for `rows`, as an SVG document.
pub(crate) fn chart(plan: &Plan, machine: &Machine, rows: &[RowSummary]) -> String {
    let bars_height = rows.len() as f64 * ROW_HEIGHT + 75.0;
    let lat_top = 100.0 + bars_height + 25.0;
    let height = lat_top + 330.0;
    let mut svg = Svg::new(WIDTH, height);
    let (title, reference) = match plan.service {
        Service::Hello => ("corio-ab: runtimes under the same load", None),
        Service::File => (
            "corio-ab: static file servers under the same load",
            results::reference_row(rows),
        ),
    };
    svg.text(WIDTH / 2.0, 30.0, 20.0, "middle", "bold", title);
    svg.text(WIDTH / 2.0, 54.0, 12.0, "middle", "normal", &plan.shape());
    svg.text(WIDTH / 2.0, 72.0, 12.0, "middle", "normal", &machine.line());
    let throughput = |r: &RowSummary| r.rps;
    let cpu = |r: &RowSummary| r.cpu_us_per_req;
    let area = Area {
        x: 15.0,
        y: 100.0,
        w: 475.0,
        h: bars_height,
    };
    let axes = match reference {
        Some(r) => [
            format!(
                "requests per second (median, min-max; ×: ratio to {})",
                r.variant.name()
            ),
            format!(
                "µs of server CPU per request (median, min-max; ×: to {})",
                r.variant.name()
            ),
        ],
        None => [
            "requests per second (median, whiskers: min-max)".to_string(),
            "µs of server CPU time per request (median, min-max)".to_string(),
        ],
    };
    bar_panel(
        &mut svg,
        area,
        rows,
        &BarPanel {
            title: "Throughput (higher is better)",
            axis: &axes[0],
            value: &throughput,
            fmt: group_thousands,
            reference,
        },
    );
    let area = Area { x: 510.0, ..area };
    bar_panel(
        &mut svg,
        area,
        rows,
        &BarPanel {
            title: "Server CPU per request (lower is better)",
            axis: &axes[1],
            value: &cpu,
            fmt: sig3,
            reference,
        },
    );
    latency_panel(
        &mut svg,
        Area {
            x: 15.0,
            y: lat_top,
            w: WIDTH - 30.0,
            h: 310.0,
        },
        rows,
    );
    svg.finish()
}

/// A rectangle of the canvas.
#[derive(Debug, Clone, Copy)]
struct Area {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

/// What a bar panel draws.
struct BarPanel<'a> {
    title: &'a str,
    axis: &'a str,
    value: &'a dyn Fn(&RowSummary) -> Option<Spread>,
    fmt: fn(f64) -> String,
    /// When set, each bar's label adds its ratio to this row's median.
    reference: Option<&'a RowSummary>,
}

fn bar_panel(svg: &mut Svg, a: Area, rows: &[RowSummary], p: &BarPanel<'_>) {
    svg.text(a.x, a.y + 14.0, 14.0, "start", "bold", p.title);
    let plot = Area {
        x: a.x + LABEL_WIDTH,
        y: a.y + 28.0,
        w: a.w - LABEL_WIDTH - 55.0,
        h: rows.len() as f64 * ROW_HEIGHT,
    };
    let max = rows
        .iter()
        .filter_map(|r| (p.value)(r))
        .map(|s| s.max)
        .fold(0.0, f64::max);
    let (top, step) = nice_axis(max);
    let x_of = |v: f64| plot.x + plot.w * (v / top).clamp(0.0, 1.0);
    let mut t = 0.0;
    while t <= top * 1.0001 {
        let x = x_of(t);
        svg.line(x, plot.y, x, plot.y + plot.h, "#dddddd", 1.0);
        svg.text(
            x,
            plot.y + plot.h + 15.0,
            11.0,
            "middle",
            "normal",
            &short_number(t),
        );
        t += step;
    }
    svg.line(
        plot.x,
        plot.y + plot.h,
        plot.x + plot.w,
        plot.y + plot.h,
        "#444444",
        1.0,
    );
    svg.text(
        plot.x + plot.w / 2.0,
        plot.y + plot.h + 33.0,
        11.5,
        "middle",
        "normal",
        p.axis,
    );
    for (i, row) in rows.iter().enumerate() {
        let y = plot.y + i as f64 * ROW_HEIGHT;
        let mid = y + ROW_HEIGHT / 2.0;
        svg.text(
            plot.x - 8.0,
            mid + 4.5,
            13.0,
            "end",
            "normal",
            row.variant.name(),
        );
        let Some(s) = (p.value)(row) else {
            let why = row
                .failure_brief
                .as_deref()
                .map_or("no data".to_string(), |f| format!("failed: {f}"));
            svg.text(
                plot.x + 6.0,
                mid + 4.0,
                11.0,
                "start",
                "italic",
                &clip(&why, 62),
            );
            continue;
        };
        svg.rect(
            plot.x,
            y + 6.0,
            x_of(s.median) - plot.x,
            ROW_HEIGHT - 12.0,
            row.variant.color(),
        );
        svg.whisker(x_of(s.min), x_of(s.max), mid);
        let ratio = p
            .reference
            .and_then(|r| (p.value)(r))
            .filter(|r| r.median > 0.0)
            .map_or(String::new(), |r| format!(" ({:.2}×)", s.median / r.median));
        svg.text(
            x_of(s.max) + 5.0,
            mid + 4.0,
            11.5,
            "start",
            "bold",
            &format!("{}{ratio}", (p.fmt)(s.median)),
        );
    }
}

fn latency_panel(svg: &mut Svg, a: Area, rows: &[RowSummary]) {
    let title = "Latency percentiles (lower is better)";
    svg.text(a.x, a.y + 14.0, 14.0, "start", "bold", title);
    let plot = Area {
        x: a.x + 80.0,
        y: a.y + 30.0,
        w: a.w - 80.0 - 250.0,
        h: a.h - 75.0,
    };
    let values: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.latency_us.iter().flatten().map(|s| s.median))
        .collect();
    let axis = LogAxis::covering(&values);
    let y_of = |v: f64| plot.y + plot.h * (1.0 - axis.fraction(v));
    for tick in axis.ticks() {
        let y = y_of(tick);
        svg.line(plot.x, y, plot.x + plot.w, y, "#dddddd", 1.0);
        svg.text(
            plot.x - 6.0,
            y + 4.0,
            11.0,
            "end",
            "normal",
            &tick_latency(tick),
        );
    }
    let bottom = plot.y + plot.h;
    svg.line(plot.x, plot.y, plot.x, bottom, "#444444", 1.0);
    svg.line(plot.x, bottom, plot.x + plot.w, bottom, "#444444", 1.0);
    let x_of = |i: usize| plot.x + plot.w * (i as f64 + 0.5) / PERCENTILES.len() as f64;
    for (i, name) in PERCENTILES.iter().enumerate() {
        svg.text(x_of(i), bottom + 17.0, 12.0, "middle", "normal", name);
    }
    let x_title = "percentile of request latency (median over the reps)";
    svg.text(
        plot.x + plot.w / 2.0,
        bottom + 37.0,
        11.5,
        "middle",
        "normal",
        x_title,
    );
    svg.vertical_text(a.x + 14.0, plot.y + plot.h / 2.0, "latency (log scale)");
    if values.is_empty() {
        let (x, y) = (plot.x + plot.w / 2.0, plot.y + plot.h / 2.0);
        svg.text(x, y, 13.0, "middle", "italic", "no latency data");
    }
    for (n, row) in rows.iter().enumerate() {
        let points: Vec<(f64, f64)> = row
            .latency_us
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (x_of(i), y_of(s.median))))
            .collect();
        svg.polyline(&points, row.variant.color());
        legend_entry(
            svg,
            plot.x + plot.w + 25.0,
            plot.y + 8.0 + n as f64 * 40.0,
            row,
        );
    }
}

/// One legend entry: colour, name, and p50 / p99 in words.
fn legend_entry(svg: &mut Svg, x: f64, y: f64, row: &RowSummary) {
    svg.line(x, y, x + 24.0, y, row.variant.color(), 3.0);
    svg.text(x + 32.0, y + 4.5, 13.0, "start", "bold", row.variant.name());
    let detail = match (row.latency_us[0], row.latency_us[2], row.ok_runs) {
        (Some(p50), Some(p99), _) => {
            format!("p50 {}, p99 {}", latency(p50.median), latency(p99.median))
        }
        (_, _, 0) if row.failure.is_some() => "failed".to_string(),
        _ => "no data".to_string(),
    };
    svg.text(x + 32.0, y + 20.0, 11.5, "start", "normal", &detail);
}

/// A log-scale axis from a 1-2-5 value below the data to one above it.
#[derive(Debug, Clone, Copy)]
struct LogAxis {
    lo: f64,
    hi: f64,
}

impl LogAxis {
    fn covering(values: &[f64]) -> LogAxis {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(0.0, f64::max);
        if !lo.is_finite() || hi <= 0.0 {
            return LogAxis {
                lo: 10.0,
                hi: 1000.0,
            };
        }
        let lo = nice_125(lo.max(0.1), false);
        let hi = nice_125(hi, true).max(lo * 10.0);
        LogAxis { lo, hi }
    }

    /// Where `v` sits between the ends, 0 to 1.
    fn fraction(self, v: f64) -> f64 {
        (v.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
    }

    /// The 1-2-5 values between the ends.
    fn ticks(self) -> Vec<f64> {
        let mut ticks = Vec::new();
        let mut decade = 10f64.powf(self.lo.log10().floor());
        while decade <= self.hi {
            for m in [1.0, 2.0, 5.0] {
                let v = m * decade;
                if v >= self.lo * 0.999 && v <= self.hi * 1.001 {
                    ticks.push(v);
                }
            }
            decade *= 10.0;
        }
        ticks
    }
}

/// The nearest 1, 2 or 5 × 10^k below `v` (or above, with `up`).
fn nice_125(v: f64, up: bool) -> f64 {
    let decade = 10f64.powf(v.log10().floor());
    let steps = [1.0, 2.0, 5.0, 10.0].map(|m| m * decade);
    match up {
        true => steps
            .into_iter()
            .find(|&s| s >= v * 0.999)
            .unwrap_or(10.0 * decade),
        false => steps
            .into_iter()
            .rev()
            .find(|&s| s <= v * 1.001)
            .unwrap_or(decade),
    }
}

/// Axis maximum and tick step (1, 2 or 5 × 10^k) covering `max` with room for labels.
fn nice_axis(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 0.2);
    }
    let raw = max * 1.15 / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max * 1.15 / step).ceil() * step, step)
}

/// A round latency tick in µs: `500µs`, `2ms`, `1s`.
fn tick_latency(us: f64) -> String {
    match us {
        u if u < 1_000.0 => format!("{}µs", trim_zeros(u)),
        u if u < 1_000_000.0 => format!("{}ms", trim_zeros(u / 1e3)),
        u => format!("{}s", trim_zeros(u / 1e6)),
    }
}

/// `120000` → `120k`, `1500000` → `1.5M`, small values kept.
fn short_number(v: f64) -> String {
    match v.abs() {
        a if a >= 1e6 => format!("{}M", trim_zeros(v / 1e6)),
        a if a >= 1e3 => format!("{}k", trim_zeros(v / 1e3)),
        _ => trim_zeros(v),
    }
}

fn trim_zeros(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn clip(s: &str, max: usize) -> String {
    match s.chars().count() > max {
        true => s.chars().take(max - 1).collect::<String>() + "…",
        false => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_nice() {
        assert_eq!(nice_axis(61_000.0), (80_000.0, 20_000.0));
        assert_eq!(nice_axis(9.0), (15.0, 5.0));
        let axis = LogAxis::covering(&[1350.0, 21_300.0]);
        assert_eq!((axis.lo, axis.hi), (1000.0, 50_000.0));
        assert_eq!(axis.ticks(), vec![1e3, 2e3, 5e3, 1e4, 2e4, 5e4]);
        assert_eq!(
            LogAxis::covering(&[60.0, 70.0]).ticks(),
            vec![50.0, 100.0, 200.0, 500.0]
        );
        assert_eq!(short_number(120_000.0), "120k");
        assert_eq!(short_number(1_500_000.0), "1.5M");
        assert_eq!(short_number(0.5), "0.5");
        assert_eq!(tick_latency(500.0), "500µs");
        assert_eq!(tick_latency(2000.0), "2ms");
        assert_eq!(tick_latency(0.2), "0.2µs");
    }

    #[test]
    fn long_text_is_clipped() {
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
