//! Splits query text into tokens, each with its byte offset for errors.

use crate::QueryError;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// An identifier or keyword, as written.
    Word(String),
    Str(String),
    Number(f64),
    Parameter(String),
    /// Punctuation and operators: `( ) [ ] { } , . : ? ?? * / % + - || = != <> < <= > >= & | ^ ~ << >> >>>`.
    Symbol(&'static str),
}

pub type Spanned = (Token, usize);

const SYMBOLS: [&str; 29] = [
    ">>>", "??", "||", "!=", "<>", "<=", ">=", "<<", ">>", "(", ")", "[", "]", "{", "}", ",", ".",
    ":", "?", "*", "/", "%", "+", "-", "=", "<", ">", "&", "|",
];
const MORE_SYMBOLS: [&str; 2] = ["^", "~"];

pub fn tokenize(text: &str) -> Result<Vec<Spanned>, QueryError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && bytes.get(i + 1) == Some(&b'-') {
            // A line comment.
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'@' || c >= 0x80 {
            let start = i;
            i += 1;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80)
            {
                i += 1;
            }
            let word = &text[start..i];
            if c == b'@' {
                if word.len() == 1 {
                    return Err(syntax("@", start));
                }
                out.push((Token::Parameter(word.to_string()), start));
            } else {
                out.push((Token::Word(word.to_string()), start));
            }
        } else if c.is_ascii_digit()
            || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let start = i;
            let (value, end) = number(text, i)?;
            i = end;
            out.push((Token::Number(value), start));
        } else if c == b'\'' || c == b'"' {
            let (s, end) = string(text, i)?;
            out.push((Token::Str(s), i));
            i = end;
        } else {
            let rest = &text[i..];
            let symbol = SYMBOLS
                .iter()
                .chain(MORE_SYMBOLS.iter())
                .find(|s| rest.starts_with(**s))
                .ok_or_else(|| {
                    syntax(
                        &rest.chars().next().map(String::from).unwrap_or_default(),
                        i,
                    )
                })?;
            out.push((Token::Symbol(symbol), i));
            i += symbol.len();
        }
    }
    Ok(out)
}

fn syntax(token: &str, position: usize) -> QueryError {
    QueryError::Syntax {
        token: token.to_string(),
        position,
    }
}

fn number(text: &str, start: usize) -> Result<(f64, usize), QueryError> {
    let bytes = text.as_bytes();
    if bytes[start] == b'0' && matches!(bytes.get(start + 1), Some(b'x' | b'X')) {
        let mut end = start + 2;
        while end < bytes.len() && bytes[end].is_ascii_hexdigit() {
            end += 1;
        }
        let digits = &text[start + 2..end];
        let value =
            u64::from_str_radix(digits, 16).map_err(|_| syntax(&text[start..end], start))?;
        return Ok((value as f64, end));
    }
    let mut end = start;
    while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
        end += 1;
    }
    if end < bytes.len() && matches!(bytes[end], b'e' | b'E') {
        let mut exp = end + 1;
        if exp < bytes.len() && matches!(bytes[exp], b'+' | b'-') {
            exp += 1;
        }
        if exp < bytes.len() && bytes[exp].is_ascii_digit() {
            end = exp;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
        }
    }
    let literal = &text[start..end];
    let value: f64 = literal.parse().map_err(|_| syntax(literal, start))?;
    if !value.is_finite() {
        return Err(syntax(literal, start));
    }
    Ok((value, end))
}

/// A quoted string with JSON-style escapes; returns it and the offset after the quote.
fn string(text: &str, start: usize) -> Result<(String, usize), QueryError> {
    let quote = text.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((offset, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, e) = chars
                    .next()
                    .ok_or_else(|| syntax("\\", start + 1 + offset))?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).map(|(_, h)| h).collect();
                        let code = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| syntax(&format!("\\u{hex}"), start + 1 + offset))?;
                        out.push(code);
                    }
                    other => out.push(other),
                }
            }
            c if c == quote => return Ok((out, start + 1 + offset + 1)),
            c => out.push(c),
        }
    }
    Err(syntax(&quote.to_string(), start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let t = tokenize("SELECT c.a FROM c WHERE c.n >= -1.5e3 AND c.s = 'it\\'s' -- note")
            .expect("lex");
        assert!(t.iter().any(|(tok, _)| *tok == Token::Str("it's".into())));
        assert!(t.iter().any(|(tok, _)| *tok == Token::Symbol(">=")));
        assert!(t.iter().any(|(tok, _)| *tok == Token::Number(1500.0)));
        assert_eq!(tokenize("0x1F").expect("hex")[0].0, Token::Number(31.0));
        assert_eq!(tokenize("a ?? b").expect("lex")[1].0, Token::Symbol("??"));
        assert!(tokenize("'open").is_err());
        assert!(tokenize("#").is_err());
        assert!(tokenize("1e999").is_err());
    }
}
