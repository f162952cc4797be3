use crate::QueryError;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Word(String),
    Str(String),
    Number(f64),
    Parameter(String),
    Symbol(char),
}

/// A token and the byte offset it starts at, for error messages.
pub type Spanned = (Token, usize);

pub fn tokenize(text: &str) -> Result<Vec<Spanned>, QueryError> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let syntax = |position: usize, token: &str| QueryError::Syntax {
        token: token.to_string(),
        position,
    };
    while i < chars.len() {
        let (pos, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' || c == '@' {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].1.is_ascii_alphanumeric() || chars[i].1 == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().map(|(_, c)| *c).collect();
            if let Some(name) = word.strip_prefix('@') {
                if name.is_empty() {
                    return Err(syntax(pos, "@"));
                }
                out.push((Token::Parameter(word), pos));
            } else {
                out.push((Token::Word(word), pos));
            }
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(|(_, d)| d.is_ascii_digit()))
        {
            let start = i;
            i += 1;
            while i < chars.len()
                && (chars[i].1.is_ascii_digit()
                    || matches!(chars[i].1, '.' | 'e' | 'E' | '+' | '-'))
            {
                i += 1;
            }
            let literal: String = chars[start..i].iter().map(|(_, c)| *c).collect();
            let n = literal.parse::<f64>().map_err(|_| syntax(pos, &literal))?;
            out.push((Token::Number(n), pos));
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                let Some(&(_, d)) = chars.get(i) else {
                    return Err(syntax(pos, &c.to_string()));
                };
                i += 1;
                match d {
                    '\\' => {
                        let Some(&(_, e)) = chars.get(i) else {
                            return Err(syntax(pos, "\\"));
                        };
                        i += 1;
                        s.push(match e {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => other,
                        });
                    }
                    d if d == c => break,
                    d => s.push(d),
                }
            }
            out.push((Token::Str(s), pos));
        } else if "*.=[](),".contains(c) {
            out.push((Token::Symbol(c), pos));
            i += 1;
        } else {
            return Err(syntax(pos, &c.to_string()));
        }
    }
    Ok(out)
}
