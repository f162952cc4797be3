use serde_json::Value;

use crate::ast::{Expr, Query};
use crate::lexer::{tokenize, Spanned, Token};
use crate::QueryError;

/// Parses query text.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    let tokens = tokenize(text)?;
    let mut p = Parser {
        tokens,
        at: 0,
        end: text.len(),
    };
    p.keyword("SELECT")?;
    p.symbol('*')
        .map_err(|_| QueryError::Unsupported("only SELECT * is served".into()))?;
    p.keyword("FROM")?;
    let alias = p.identifier()?;
    let filter = if p.peek_keyword("WHERE") {
        p.at += 1;
        Some(p.conjunction(&alias)?)
    } else {
        None
    };
    if let Some((token, position)) = p.tokens.get(p.at) {
        return Err(unsupported_or_syntax(token, *position));
    }
    Ok(Query { alias, filter })
}

fn unsupported_or_syntax(token: &Token, position: usize) -> QueryError {
    match token {
        Token::Word(w) if is_keyword(w) => {
            QueryError::Unsupported(format!("the {} clause", w.to_uppercase()))
        }
        other => QueryError::Syntax {
            token: describe(other),
            position,
        },
    }
}

fn is_keyword(word: &str) -> bool {
    [
        "ORDER", "GROUP", "OFFSET", "LIMIT", "JOIN", "OR", "NOT", "TOP", "VALUE", "DISTINCT",
    ]
    .iter()
    .any(|k| k.eq_ignore_ascii_case(word))
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => w.clone(),
        Token::Str(s) => format!("'{s}'"),
        Token::Number(n) => n.to_string(),
        Token::Parameter(p) => p.clone(),
        Token::Symbol(c) => c.to_string(),
    }
}

struct Parser {
    tokens: Vec<Spanned>,
    at: usize,
    end: usize,
}

impl Parser {
    fn error_here(&self) -> QueryError {
        match self.tokens.get(self.at) {
            Some((token, position)) => unsupported_or_syntax(token, *position),
            None => QueryError::Syntax {
                token: "<end of query>".into(),
                position: self.end,
            },
        }
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.tokens.get(self.at), Some((Token::Word(w), _)) if w.eq_ignore_ascii_case(keyword))
    }

    fn keyword(&mut self, keyword: &str) -> Result<(), QueryError> {
        if self.peek_keyword(keyword) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error_here())
        }
    }

    fn symbol(&mut self, symbol: char) -> Result<(), QueryError> {
        if matches!(self.tokens.get(self.at), Some((Token::Symbol(c), _)) if *c == symbol) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error_here())
        }
    }

    fn identifier(&mut self) -> Result<String, QueryError> {
        match self.tokens.get(self.at) {
            Some((Token::Word(w), _)) if !is_keyword(w) && !w.eq_ignore_ascii_case("WHERE") => {
                self.at += 1;
                Ok(w.clone())
            }
            _ => Err(self.error_here()),
        }
    }

    fn conjunction(&mut self, alias: &str) -> Result<Expr, QueryError> {
        let mut expr = self.equality(alias)?;
        while self.peek_keyword("AND") {
            self.at += 1;
            let right = self.equality(alias)?;
            expr = Expr::And(Box::new(expr), Box::new(right));
        }
        Ok(expr)
    }

    fn equality(&mut self, alias: &str) -> Result<Expr, QueryError> {
        let left = self.operand(alias)?;
        self.symbol('=')?;
        let right = self.operand(alias)?;
        Ok(Expr::Equal(Box::new(left), Box::new(right)))
    }

    fn operand(&mut self, alias: &str) -> Result<Expr, QueryError> {
        let Some((token, _)) = self.tokens.get(self.at).cloned() else {
            return Err(self.error_here());
        };
        self.at += 1;
        match token {
            Token::Str(s) => Ok(Expr::Literal(Value::String(s))),
            Token::Number(n) => Ok(Expr::Literal(
                serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
            )),
            Token::Parameter(p) => Ok(Expr::Parameter(p)),
            Token::Word(w) if w.eq_ignore_ascii_case("true") => {
                Ok(Expr::Literal(Value::Bool(true)))
            }
            Token::Word(w) if w.eq_ignore_ascii_case("false") => {
                Ok(Expr::Literal(Value::Bool(false)))
            }
            Token::Word(w) if w.eq_ignore_ascii_case("null") => Ok(Expr::Literal(Value::Null)),
            Token::Word(w) if w == alias => self.path(),
            _ => {
                self.at -= 1;
                Err(self.error_here())
            }
        }
    }

    /// `.name` and `["name"]` steps after the alias.
    fn path(&mut self) -> Result<Expr, QueryError> {
        let mut steps = Vec::new();
        loop {
            match self.tokens.get(self.at) {
                Some((Token::Symbol('.'), _)) => {
                    self.at += 1;
                    match self.tokens.get(self.at) {
                        Some((Token::Word(w), _)) => {
                            steps.push(w.clone());
                            self.at += 1;
                        }
                        _ => return Err(self.error_here()),
                    }
                }
                Some((Token::Symbol('['), _)) => {
                    self.at += 1;
                    match self.tokens.get(self.at) {
                        Some((Token::Str(s), _)) => {
                            steps.push(s.clone());
                            self.at += 1;
                        }
                        _ => return Err(self.error_here()),
                    }
                    self.symbol(']')?;
                }
                _ => break,
            }
        }
        if steps.is_empty() {
            return Err(QueryError::Unsupported(
                "comparing the whole document".into(),
            ));
        }
        Ok(Expr::Property(steps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_served_subset() {
        let q = parse("select * from c").expect("parse");
        assert_eq!(q.alias, "c");
        assert!(q.filter.is_none());
        let q = parse(r#"SELECT * FROM r WHERE r.a.b = @p AND r["x y"] = 'v' AND r.n = 1.5"#)
            .expect("parse");
        assert!(matches!(q.filter, Some(Expr::And(..))));
        let q = parse("SELECT * FROM c WHERE c.flag = true").expect("parse");
        assert_eq!(
            q.filter,
            Some(Expr::Equal(
                Box::new(Expr::Property(vec!["flag".into()])),
                Box::new(Expr::Literal(json!(true)))
            ))
        );
    }

    #[test]
    fn reports_position_and_token() {
        let err = parse("SELECT * FORM c").expect_err("typo");
        assert_eq!(
            err,
            QueryError::Syntax {
                token: "FORM".into(),
                position: 9
            }
        );
        assert!(matches!(
            parse("SELECT * FROM c ORDER BY c.a"),
            Err(QueryError::Unsupported(_))
        ));
        assert!(parse("SELECT * FROM c WHERE c.a = 'unterminated").is_err());
        assert!(parse("").is_err());
    }
}
