//! A plain table: headers, rows of cells, per-column alignment; rendered as aligned text.

/// Horizontal alignment of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text, aligned left.
    Left,
    /// Numbers, aligned right.
    Right,
}

/// Rows of text cells under a header line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// The column headers.
    pub headers: Vec<String>,
    /// Each column's alignment.
    pub align: Vec<Align>,
    /// The rows, a cell per column.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns: text columns left-aligned, the rest right-aligned.
    pub fn new(columns: &[(&str, Align)]) -> Self {
        Table {
            headers: columns.iter().map(|(h, _)| h.to_string()).collect(),
            align: columns.iter().map(|&(_, a)| a).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; it must have one cell per column.
    pub fn push(&mut self, row: Vec<String>) {
        assert_eq!(row.len(), self.headers.len(), "table row width");
        self.rows.push(row);
    }

    /// Display width of each column (characters, not bytes: `×` and `ᵀ` count once).
    pub fn widths(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (wi, cell) in w.iter_mut().zip(row) {
                *wi = (*wi).max(cell.chars().count());
            }
        }
        w
    }

    /// Aligned text with a rule under the header.
    pub fn to_text(&self) -> String {
        let widths = self.widths();
        let line = |cells: &[String]| {
            let parts: Vec<String> = cells
                .iter()
                .zip(&widths)
                .zip(&self.align)
                .map(|((c, &w), a)| pad(c, w, *a))
                .collect();
            parts.join("  ").trim_end().to_string()
        };
        let mut out = line(&self.headers);
        out.push('\n');
        let rule: Vec<String> = widths.iter().map(|&w| "─".repeat(w)).collect();
        out.push_str(&rule.join("  "));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }
}

/// Pads `s` to `width` characters.
pub(crate) fn pad(s: &str, width: usize, align: Align) -> String {
    let fill = " ".repeat(width.saturating_sub(s.chars().count()));
    match align {
        Align::Left => format!("{s}{fill}"),
        Align::Right => format!("{fill}{s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns_by_characters() {
        let mut t = Table::new(&[("kernel", Align::Left), ("GFLOP/s", Align::Right)]);
        t.push(vec!["naive".into(), "0.5".into()]);
        t.push(vec!["simd×".into(), "85.25".into()]);
        let text = t.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "kernel  GFLOP/s");
        assert_eq!(lines[2], "naive       0.5");
        assert_eq!(lines[3], "simd×     85.25");
    }
}
