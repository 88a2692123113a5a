//! Grids of small grey images as SVG: a conv layer's filters (the book's figure of learned
//! edge detectors). Each tile is scaled to its own minimum and maximum, dark for high values,
//! as the book's `filter_show` draws them (`imshow(..., cmap=gray_r)`).

use std::fmt::Write;

/// One titled grid of tiles of `h`×`w` values each.
pub struct TileGrid {
    pub title: String,
    pub tiles: Vec<Vec<f64>>,
}

/// Pixels per tile value and between tiles.
const CELL: usize = 8;
const GAP: usize = 6;
/// Space for a grid's title.
const TITLE: usize = 22;

/// Renders `grids` one above the other, `cols` tiles per row, under `heading`.
pub fn render(heading: &str, grids: &[TileGrid], h: usize, w: usize, cols: usize) -> String {
    let cols = cols.max(1);
    let (tile_w, tile_h) = (w * CELL, h * CELL);
    let rows_of = |g: &TileGrid| g.tiles.len().div_ceil(cols).max(1);
    let width = GAP + cols * (tile_w + GAP);
    let height = TITLE
        + grids
            .iter()
            .map(|g| TITLE + rows_of(g) * (tile_h + GAP) + GAP)
            .sum::<usize>();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" shape-rendering="crispEdges" font-family="sans-serif">"#
    );
    let _ = write!(
        svg,
        r#"<rect width="{width}" height="{height}" fill="white"/><text x="{GAP}" y="16" font-size="14">{}</text>"#,
        escape(heading)
    );
    let mut y0 = TITLE;
    for grid in grids {
        let _ = write!(
            svg,
            r#"<text x="{GAP}" y="{}" font-size="12">{}</text>"#,
            y0 + 15,
            escape(&grid.title)
        );
        y0 += TITLE;
        for (t, tile) in grid.tiles.iter().enumerate() {
            let (tx, ty) = (
                GAP + (t % cols) * (tile_w + GAP),
                y0 + (t / cols) * (tile_h + GAP),
            );
            let (lo, hi) = tile
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                });
            let span = if hi > lo { hi - lo } else { 1.0 };
            for (i, &v) in tile.iter().enumerate().take(h * w) {
                // gray_r: the largest value black, the smallest white.
                let grey = (255.0 * (1.0 - (v - lo) / span)).round().clamp(0.0, 255.0) as u8;
                let _ = write!(
                    svg,
                    r##"<rect x="{}" y="{}" width="{CELL}" height="{CELL}" fill="#{grey:02x}{grey:02x}{grey:02x}"/>"##,
                    tx + (i % w) * CELL,
                    ty + (i / w) * CELL
                );
            }
        }
        y0 += rows_of(grid) * (tile_h + GAP) + GAP;
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_are_scaled_each_to_its_own_range() {
        let grid = TileGrid {
            title: "a & b".into(),
            tiles: vec![vec![0.0, 1.0, 2.0, 3.0], vec![-5.0, -5.0, -5.0, 10.0]],
        };
        let svg = render("filters <before>", &[grid], 2, 2, 8);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("a &amp; b") && svg.contains("filters &lt;before&gt;"));
        // Each tile's minimum is white and maximum black.
        assert_eq!(svg.matches(r##"fill="#ffffff""##).count(), 1 + 3);
        assert_eq!(svg.matches(r##"fill="#000000""##).count(), 2);
    }
}
