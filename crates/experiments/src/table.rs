//! A table of text cells with a title and notes, written as Markdown (results.md, the terminal) or as HTML
//! (report.html): one source for both.

use std::fmt::Write;

/// A titled table; notes are the lines under it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub notes: Vec<String>,
}

impl Table {
    /// The title, a blank line, the table, a blank line and the notes, one per line.
    ///
    /// ```
    /// use shift_experiments::table::Table;
    /// let t = Table {
    ///     title: "Accuracy".into(),
    ///     headers: vec!["method".into(), "acc".into()],
    ///     rows: vec![vec!["dann".into(), "0.78".into()]],
    ///     notes: vec!["last epoch".into()],
    /// };
    /// assert_eq!(t.markdown(), "Accuracy\n\n| method | acc |\n|---|---|\n| dann | 0.78 |\n\nlast epoch\n");
    /// ```
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        if !self.title.is_empty() {
            let _ = writeln!(s, "{}\n", self.title);
        }
        let _ = writeln!(s, "| {} |", self.headers.join(" | "));
        let _ = writeln!(s, "|{}", "---|".repeat(self.headers.len()));
        for r in &self.rows {
            let _ = writeln!(s, "| {} |", r.join(" | "));
        }
        if !self.notes.is_empty() {
            let _ = writeln!(s);
            for n in &self.notes {
                let _ = writeln!(s, "{n}");
            }
        }
        s
    }

    /// The table as an HTML fragment: a heading, the table, the notes as paragraphs; every cell escaped.
    pub fn html(&self) -> String {
        let mut s = String::new();
        if !self.title.is_empty() {
            let _ = writeln!(s, "<h2>{}</h2>", escape(&self.title));
        }
        s.push_str("<table>\n<tr>");
        for h in &self.headers {
            let _ = write!(s, "<th>{}</th>", escape(h));
        }
        s.push_str("</tr>\n");
        for r in &self.rows {
            s.push_str("<tr>");
            for c in r {
                let _ = write!(s, "<td>{}</td>", escape(c));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
        for n in &self.notes {
            let _ = writeln!(s, "<p class=\"note\">{}</p>", escape(n));
        }
        s
    }
}

/// Text made safe inside HTML elements and attributes.
pub fn escape(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_every_cell_and_keeps_the_shape() {
        let t = Table {
            title: "A <b> & C".into(),
            headers: vec!["x".into(), "y".into()],
            rows: vec![vec!["<script>".into(), "a\"b".into()], vec!["1".into(), "2".into()]],
            notes: vec!["n & m".into()],
        };
        let h = t.html();
        assert!(h.contains("<h2>A &lt;b&gt; &amp; C</h2>"), "{h}");
        assert!(h.contains("<td>&lt;script&gt;</td><td>a&quot;b</td>"), "{h}");
        assert_eq!(h.matches("<tr>").count(), 3);
        assert_eq!(h.matches("<th>").count(), 2);
        assert!(h.contains("<p class=\"note\">n &amp; m</p>"), "{h}");
        assert!(!h.contains("<script>"));
    }
}
