//! CSV (RFC 4180): a header line, then one line per row; cells with commas, quotes or
//! newlines are quoted.

use super::table::Table;

/// Quotes a cell if it needs it.
pub fn escape(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// The table's headers and rows as CSV text.
pub fn render(table: &Table) -> String {
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells.iter().map(|c| escape(c)).collect();
        parts.join(",") + "\n"
    };
    let mut out = line(&table.headers);
    for r in &table.rows {
        out.push_str(&line(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Align;

    #[test]
    fn quotes_only_when_needed() {
        let mut t = Table::new(&[("a", Align::Left), ("b", Align::Left)]);
        t.push(vec!["plain".into(), "with,comma \"q\"".into()]);
        assert_eq!(render(&t), "a,b\nplain,\"with,comma \"\"q\"\"\"\n");
    }
}
