//! Markdown tables (GitHub flavour) from a [`Table`].

use super::table::{Align, Table, pad};

/// The table as Markdown; `|` in cells is escaped.
pub fn render(table: &Table) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let escaped = Table {
        headers: table.headers.iter().map(|h| esc(h)).collect(),
        align: table.align.clone(),
        rows: table
            .rows
            .iter()
            .map(|r| r.iter().map(|c| esc(c)).collect())
            .collect(),
    };
    let widths: Vec<usize> = escaped.widths().iter().map(|&w| w.max(3)).collect();
    let row = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .zip(&table.align)
            .map(|((c, &w), &a)| pad(c, w, a))
            .collect();
        format!("| {} |\n", parts.join(" | "))
    };
    let mut out = row(escaped.headers.clone());
    let rule: Vec<String> = widths
        .iter()
        .zip(&escaped.align)
        .map(|(&w, a)| match a {
            Align::Left => "-".repeat(w),
            Align::Right => format!("{}:", "-".repeat(w - 1)),
        })
        .collect();
    out.push_str(&format!("| {} |\n", rule.join(" | ")));
    for r in &escaped.rows {
        out.push_str(&row(r.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_alignment_row_and_escapes_pipes() {
        let mut t = Table::new(&[("a", Align::Left), ("b", Align::Right)]);
        t.push(vec!["x|y".into(), "1".into()]);
        assert_eq!(
            render(&t),
            "| a    |   b |\n| ---- | --: |\n| x\\|y |   1 |\n"
        );
    }
}
