//! A script line cut into words, as a shell would for the simple cases a test needs: words
//! split at spaces, `"..."` with the escapes `\n`, `\t`, `\\`, `\"` (so `type "root\n"` types
//! Return, as openQA's `type_string "root\n"` does), `'...'` taken literally, and `#` starting
//! a comment outside quotes.

/// Why a line cannot be cut into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordsError {
    /// A quote that never closes.
    #[error("the quote at column {0} is not closed")]
    Unclosed(usize),
    /// A backslash escape other than the few that exist.
    #[error("unknown escape \\{1} at column {0} (known: \\n \\t \\\\ \\\" \\e \\b)")]
    UnknownEscape(usize, char),
}

/// The words of `line`; none for a blank line or a comment.
pub fn split(line: &str) -> Result<Vec<String>, WordsError> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '#' if word.is_none() => break,
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, c)) => w.push(c),
                        None => return Err(WordsError::Unclosed(at + 1)),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((esc_at, '\\')) => match chars.next() {
                            Some((_, e)) => {
                                w.push(escape(e).ok_or(WordsError::UnknownEscape(esc_at + 1, e))?)
                            }
                            None => return Err(WordsError::Unclosed(at + 1)),
                        },
                        Some((_, c)) => w.push(c),
                        None => return Err(WordsError::Unclosed(at + 1)),
                    }
                }
            }
            '\\' => {
                // Outside quotes a backslash takes the next character as it is (`a\ b`).
                let w = word.get_or_insert_with(String::new);
                if let Some((_, next)) = chars.next() {
                    w.push(next);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = word {
        words.push(w);
    }
    Ok(words)
}

fn escape(c: char) -> Option<char> {
    Some(match c {
        'n' => '\n',
        't' => '\t',
        '\\' => '\\',
        '"' => '"',
        'e' => '\u{1b}',
        'b' => '\u{8}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_as_a_shell_would() {
        assert_eq!(
            split("wait login --timeout 30").unwrap(),
            ["wait", "login", "--timeout", "30"]
        );
        assert_eq!(split("  # a comment").unwrap(), Vec::<String>::new());
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert_eq!(split("type \"root\\n\"").unwrap(), ["type", "root\n"]);
        assert_eq!(split("type 'a \\n b'").unwrap(), ["type", "a \\n b"]);
        assert_eq!(
            split("type \"say \\\"hi\\\"\" # done").unwrap(),
            ["type", "say \"hi\""]
        );
        assert_eq!(
            split("key ctrl-alt-delete#x").unwrap(),
            ["key", "ctrl-alt-delete#x"]
        );
        assert_eq!(split("type \"\"").unwrap(), ["type", ""]);
        assert_eq!(split("type a\\ b").unwrap(), ["type", "a b"]);
    }

    #[test]
    fn bad_lines_say_where() {
        assert_eq!(split("type \"root"), Err(WordsError::Unclosed(6)));
        assert_eq!(split("type 'root"), Err(WordsError::Unclosed(6)));
        assert_eq!(
            split("type \"a\\qb\""),
            Err(WordsError::UnknownEscape(8, 'q'))
        );
    }
}
