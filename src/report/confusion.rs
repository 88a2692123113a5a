//! A confusion matrix as an SVG heat map: one square per (true, predicted) pair, darker the
//! larger the share of the true class's samples that went there, the count written in it. The
//! diagonal is what the model gets right; a dark square off it is a pair of classes it mixes up
//! (Fashion-MNIST's shirts and T-shirts), which a table of a hundred numbers hides.

use std::fmt::Write;

use super::tiles::escape;

/// Side of one square, in pixels.
const CELL: usize = 46;
/// Room for the row labels (class names) on the left.
const LABELS: usize = 120;
/// Room above the grid: the heading, the subtitle and the column labels.
const TOP: usize = 76;
/// Room under the grid for the axis name.
const BOTTOM: usize = 30;

/// Renders `counts` (rows the true classes, columns the predicted) under `heading`, the rows
/// labelled `labels` (one per class), the columns by index.
pub fn render(heading: &str, counts: &[Vec<usize>], labels: &[String]) -> String {
    let k = counts.len();
    let (width, height) = (LABELS + k * CELL + 20, TOP + k * CELL + BOTTOM);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">"#
    );
    let _ = write!(
        svg,
        r#"<rect width="{width}" height="{height}" fill="white"/><text x="8" y="18" font-size="14">{}</text>"#,
        escape(heading)
    );
    let _ = write!(
        svg,
        r##"<text x="8" y="36" font-size="11" fill="#555555">rows: true class; columns: predicted; shade: share of the row</text>"##
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">predicted</text>"#,
        LABELS + k * CELL / 2,
        TOP + k * CELL + 20
    );
    for (t, row) in counts.iter().enumerate() {
        let y = TOP + t * CELL;
        let label = labels.get(t).map_or_else(|| t.to_string(), |l| escape(l));
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" font-size="12" text-anchor="end">{label}</text>"#,
            LABELS - 6,
            y + CELL / 2 + 4
        );
        let total: usize = row.iter().sum();
        for (p, &n) in row.iter().enumerate() {
            let x = LABELS + p * CELL;
            let share = if total == 0 {
                0.0
            } else {
                n as f64 / total as f64
            };
            let (fill, ink) = shade(share, p == t);
            let _ = write!(
                svg,
                r##"<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="{fill}" stroke="#ffffff"/>"##
            );
            if n > 0 {
                let _ = write!(
                    svg,
                    r#"<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="{ink}">{n}</text>"#,
                    x + CELL / 2,
                    y + CELL / 2 + 4
                );
            }
        }
    }
    for p in 0..k {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">{p}</text>"#,
            LABELS + p * CELL + CELL / 2,
            TOP - 6
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The fill of a square holding `share` of its row, and the colour its count is written in:
/// blue on the diagonal, red off it, white at 0 and full colour at 1 (the square root, so that
/// the few percent of a common confusion still shows).
fn shade(share: f64, diagonal: bool) -> (String, &'static str) {
    let t = share.clamp(0.0, 1.0).sqrt();
    let (r, g, b) = if diagonal {
        (33.0, 102.0, 172.0)
    } else {
        (202.0, 0.0, 32.0)
    };
    let mix = |c: f64| (255.0 + (c - 255.0) * t).round() as u8;
    let fill = format!("#{:02x}{:02x}{:02x}", mix(r), mix(g), mix(b));
    (fill, if t > 0.6 { "#ffffff" } else { "#000000" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pair_is_a_square_shaded_by_its_share_of_the_row_with_its_count() {
        let counts = vec![vec![8, 2], vec![0, 5]];
        let labels = vec!["0 (T-shirt/top)".to_string(), "1 (trouser)".to_string()];
        let svg = render("model <m> on set", &counts, &labels);
        assert!(svg.contains("model &lt;m&gt; on set"));
        assert!(svg.contains(">0 (T-shirt/top)</text>") && svg.contains(">1 (trouser)</text>"));
        // Four squares; three counts written in them (the 0 is left blank).
        assert_eq!(svg.matches("<rect x=").count(), 4);
        assert_eq!(svg.matches(r#"text-anchor="middle" fill="#).count(), 3);
        for n in [">8<", ">2<", ">5<"] {
            assert!(svg.contains(n), "{n}");
        }
        // A whole row on the diagonal is full blue, a zero white, 20 % off it light red.
        assert!(svg.contains(r##"fill="#2166ac""##), "{svg}");
        assert!(svg.contains(r##"fill="#ffffff" stroke"##));
        assert_eq!(shade(0.2, false).0, "#e78d9b");
        assert_eq!(shade(0.0, true), ("#ffffff".to_string(), "#000000"));
        assert_eq!(shade(1.0, false), ("#ca0020".to_string(), "#ffffff"));
    }
}
