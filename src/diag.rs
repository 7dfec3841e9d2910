//! Diagnostics on stderr: the `diag!` line, kept apart from the events on stdout.
//!
//! The bottom layer: every other module may use it, it uses none of them.

/// A diagnostic line on stderr (never on stdout, which carries the events). The text is made
/// one line whatever it holds (see [`one_line`]), so that a log reader sees one entry.
macro_rules! diag {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = $crate::diag::one_line(&format!($($arg)*));
        let _ = writeln!(std::io::stderr(), "[producer] {text}");
    }};
}
pub(crate) use diag;

/// `text` on one line: line breaks (and the blanks around them) become one space, and other
/// control characters from peers (a broker's error message, a decoder's text) are escaped.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for ch in text.trim().chars() {
        match ch {
            '\n' | '\r' => pending_space = true,
            ' ' | '\t' if pending_space => {}
            c if c.is_control() => {
                flush_space(&mut out, &mut pending_space);
                out.extend(c.escape_default());
            }
            c => {
                flush_space(&mut out, &mut pending_space);
                out.push(c);
            }
        }
    }
    out
}

fn flush_space(out: &mut String, pending: &mut bool) {
    if std::mem::take(pending) && !out.ends_with(' ') {
        out.push(' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_become_one_space_and_controls_are_escaped() {
        assert_eq!(one_line("cannot decode (\n  x\n)\n"), "cannot decode ( x )");
        assert_eq!(one_line("a\r\nb"), "a b");
        assert_eq!(one_line("bell\u{7}"), "bell\\u{7}");
        assert_eq!(one_line("plain text"), "plain text");
    }
}
