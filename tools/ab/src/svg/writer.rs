//! A tiny SVG writer: text, lines, rectangles, whiskers and polylines, with
//! the text escaped.

use std::fmt::Write as _;

use super::FONT;

/// Escapes the XML special characters of `s`.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A tiny SVG writer.
pub(super) struct Svg {
    out: String,
}

impl Svg {
    /// A white canvas of `w` × `h` pixels.
    pub(super) fn new(w: f64, h: f64) -> Svg {
        let mut out = String::new();
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h:.0}" viewBox="0 0 {w} {h:.0}" font-family="{FONT}">"#
        );
        let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
        Svg { out }
    }

    /// Text at (`x`, `y`); `anchor` is start/middle/end, `style` bold/italic/normal.
    pub(super) fn text(&mut self, x: f64, y: f64, size: f64, anchor: &str, style: &str, s: &str) {
        let weight = match style {
            "bold" => r#" font-weight="bold""#,
            "italic" => r##" font-style="italic" fill="#666666""##,
            _ => "",
        };
        let _ = writeln!(
            self.out,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" text-anchor="{anchor}"{weight}>{}</text>"#,
            escape(s)
        );
    }

    /// Text rotated to read bottom-up, centred on (`x`, `y`).
    pub(super) fn vertical_text(&mut self, x: f64, y: f64, s: &str) {
        let _ = writeln!(
            self.out,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="11.5" text-anchor="middle" transform="rotate(-90 {x:.1} {y:.1})">{}</text>"#,
            escape(s)
        );
    }

    /// A straight line.
    pub(super) fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, color: &str, width: f64) {
        let _ = writeln!(
            self.out,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{color}" stroke-width="{width}"/>"#
        );
    }

    /// A filled rectangle (at least 1 px wide).
    pub(super) fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, color: &str) {
        let _ = writeln!(
            self.out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{color}" fill-opacity="0.85"/>"#,
            w.max(1.0)
        );
    }

    /// A min–max whisker with end caps at height `y`.
    pub(super) fn whisker(&mut self, x1: f64, x2: f64, y: f64) {
        self.line(x1, y, x2, y, "#222222", 1.5);
        self.line(x1, y - 6.0, x1, y + 6.0, "#222222", 1.5);
        self.line(x2, y - 6.0, x2, y + 6.0, "#222222", 1.5);
    }

    /// Connected points with a dot on each.
    pub(super) fn polyline(&mut self, points: &[(f64, f64)], color: &str) {
        let path: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            self.out,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2.5"/>"#,
            path.join(" ")
        );
        for (x, y) in points {
            let _ = writeln!(
                self.out,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="4.5" fill="{color}"/>"#
            );
        }
    }

    /// The document.
    pub(super) fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        let mut svg = Svg::new(10.0, 10.0);
        svg.text(1.0, 2.0, 3.0, "start", "normal", "<x>");
        assert!(svg.finish().contains("&lt;x&gt;</text>\n</svg>"));
    }
}
