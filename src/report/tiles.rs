//! Grids of small grey images as SVG: a conv layer's filters (the book's figure of learned
//! edge detectors), images a model gets wrong. Dark for high values, as the book draws both
//! (`imshow(..., cmap=gray_r)`); filters are scaled each to its own minimum and maximum,
//! images to a fixed range.

use std::fmt::Write;

/// One titled grid of tiles of `h`×`w` values each.
pub struct TileGrid {
    /// The grid's title.
    pub title: String,
    /// The tiles, each `h`×`w` values row by row.
    pub tiles: Vec<Vec<f64>>,
    /// A line under each tile (e.g. `7 → 2`), or none when empty.
    pub captions: Vec<String>,
    /// The values drawn white and black; `None`: each tile's own minimum and maximum.
    pub range: Option<(f64, f64)>,
}

/// Height of a caption line under a tile.
const CAPTION: usize = 14;

/// Pixels between tiles.
const GAP: usize = 6;
/// Space for a grid's title.
const TITLE: usize = 22;

/// Renders `grids` one above the other, `cols` tiles per row, under `heading`.
pub fn render(heading: &str, grids: &[TileGrid], h: usize, w: usize, cols: usize) -> String {
    let cols = cols.max(1);
    // Pixels per value: 8 for a 5×5 filter, 3 for a 28×28 digit (tiles about 80 px wide).
    let cell = (84 / h.max(w).max(1)).clamp(1, 8);
    let (tile_w, tile_h) = (w * cell, h * cell);
    let rows_of = |g: &TileGrid| g.tiles.len().div_ceil(cols).max(1);
    let row_h = |g: &TileGrid| tile_h + GAP + if g.captions.is_empty() { 0 } else { CAPTION };
    let width = GAP
        + cols
            * (tile_w + GAP).max(if grids.iter().any(|g| !g.captions.is_empty()) {
                48
            } else {
                0
            });
    let col_w = (width - GAP) / cols;
    let height = TITLE
        + grids
            .iter()
            .map(|g| TITLE + rows_of(g) * row_h(g) + GAP)
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
            let (tx, ty) = (GAP + (t % cols) * col_w, y0 + (t / cols) * row_h(grid));
            let (lo, hi) = grid.range.unwrap_or_else(|| {
                tile.iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                        (lo.min(v), hi.max(v))
                    })
            });
            if let Some(caption) = grid.captions.get(t) {
                let _ = write!(
                    svg,
                    r#"<text x="{tx}" y="{}" font-size="11">{}</text>"#,
                    ty + tile_h + CAPTION - 2,
                    escape(caption)
                );
            }
            let span = if hi > lo { hi - lo } else { 1.0 };
            // gray_r: the largest value black, the smallest white.
            let grey_of =
                |v: f64| (255.0 * (1.0 - (v - lo) / span)).round().clamp(0.0, 255.0) as u8;
            let _ = write!(
                svg,
                r##"<rect x="{tx}" y="{ty}" width="{tile_w}" height="{tile_h}" fill="#ffffff" stroke="#dddddd" stroke-width="0.5"/>"##
            );
            for (r, row) in tile.chunks(w.max(1)).take(h).enumerate() {
                // One rect per run of equal greys along the row, none for white (the tile's
                // background): a digit is mostly white, so `eval --misclassified`'s 60 digits
                // take 443 KB instead of the 2.8 MB they took drawn pixel by pixel.
                let mut c = 0;
                while c < row.len() {
                    let grey = grey_of(row[c]);
                    let run = row[c..].iter().take_while(|&&v| grey_of(v) == grey).count();
                    if grey != 255 {
                        let _ = write!(
                            svg,
                            r##"<rect x="{}" y="{}" width="{}" height="{cell}" fill="#{grey:02x}{grey:02x}{grey:02x}"/>"##,
                            tx + c * cell,
                            ty + r * cell,
                            run * cell
                        );
                    }
                    c += run;
                }
            }
        }
        y0 += rows_of(grid) * row_h(grid) + GAP;
    }
    svg.push_str("</svg>\n");
    svg
}

pub(crate) fn escape(s: &str) -> String {
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
            captions: Vec::new(),
            range: None,
        };
        let svg = render("filters <before>", &[grid], 2, 2, 8);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("a &amp; b") && svg.contains("filters &lt;before&gt;"));
        // Each tile's minimum is white — its background, one rect per tile, no pixel drawn —
        // and its maximum black. 8 px per value; the first tile's lower row is 2/3 and 3/3.
        assert_eq!(svg.matches(r##"fill="#ffffff""##).count(), 2);
        assert_eq!(svg.matches(r##"fill="#000000""##).count(), 2);
        assert!(svg.contains(r##"<rect x="6" y="52" width="8" height="8" fill="#555555"/>"##));
        assert!(svg.contains(r##"<rect x="14" y="52" width="8" height="8" fill="#000000"/>"##));
        // A fixed range and captions: 0.5 is mid-grey in 0..1, and each tile is labelled.
        let fixed = TileGrid {
            title: String::new(),
            tiles: vec![vec![0.5; 4]],
            captions: vec!["7 → 2".into()],
            range: Some((0.0, 1.0)),
        };
        let svg = render("", &[fixed], 2, 2, 8);
        // Equal greys along a row are one rect.
        assert_eq!(
            svg.matches(r##"width="16" height="8" fill="#808080""##)
                .count(),
            2
        );
        assert!(svg.contains("7 → 2"));
    }
}
