//! Query text to [`Query`]. Expressions use precedence climbing; the levels,
//! loosest first: `?:` and `??`, `OR`, `AND`, `NOT`, comparisons (with `IN`,
//! `BETWEEN`, `LIKE`), `|`, `^`, `&`, shifts, `+ - ||`, `* / %`, unary, and
//! member access.

use serde_json::{Number, Value};

use crate::ast::*;
use crate::lexer::{tokenize, Spanned, Token};
use crate::QueryError;

/// Words that cannot name a binding or property without quoting.
const RESERVED: [&str; 27] = [
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "LIKE",
    "ESCAPE",
    "AS",
    "VALUE",
    "TOP",
    "DISTINCT",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "GROUP",
    "OFFSET",
    "LIMIT",
    "JOIN",
    "EXISTS",
    "TRUE",
    "FALSE",
    "NULL",
    "UNDEFINED",
];

/// Deepest expression nesting accepted, so hostile input cannot overflow the
/// stack (each level is a dozen frames, and request threads have 2 MB).
const MAX_DEPTH: usize = 64;

pub fn parse(text: &str) -> Result<Query, QueryError> {
    let mut p = Parser {
        tokens: tokenize(text)?,
        at: 0,
        end: text.len(),
        depth: 0,
    };
    let query = p.query()?;
    if p.at < p.tokens.len() {
        return Err(p.error());
    }
    crate::depth::check(&query)?;
    Ok(query)
}

fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

struct Parser {
    tokens: Vec<Spanned>,
    at: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn error(&self) -> QueryError {
        match self.tokens.get(self.at) {
            Some((token, position)) => QueryError::Syntax {
                token: describe(token),
                position: *position,
            },
            None => QueryError::Syntax {
                token: "<end of query>".into(),
                position: self.end,
            },
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(t, _)| t)
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn peek_word_at(&self, offset: usize, word: &str) -> bool {
        matches!(self.tokens.get(self.at + offset), Some((Token::Word(w), _)) if w.eq_ignore_ascii_case(word))
    }

    fn peek_symbol(&self, symbol: &str) -> bool {
        matches!(self.peek(), Some(Token::Symbol(s)) if *s == symbol)
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let found = self.peek_word(word);
        if found {
            self.at += 1;
        }
        found
    }

    fn eat_symbol(&mut self, symbol: &str) -> bool {
        let found = self.peek_symbol(symbol);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect_word(&mut self, word: &str) -> Result<(), QueryError> {
        if self.eat_word(word) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<(), QueryError> {
        if self.eat_symbol(symbol) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn identifier(&mut self) -> Result<String, QueryError> {
        match self.peek() {
            Some(Token::Word(w)) if !is_reserved(w) => {
                let w = w.clone();
                self.at += 1;
                Ok(w)
            }
            _ => Err(self.error()),
        }
    }

    fn query(&mut self) -> Result<Query, QueryError> {
        self.expect_word("SELECT")?;
        let distinct = self.eat_word("DISTINCT");
        let top = if self.eat_word("TOP") {
            Some(self.primary()?)
        } else {
            None
        };
        let projection = self.projection()?;
        let from = if self.eat_word("FROM") {
            Some(self.from()?)
        } else {
            None
        };
        let filter = if self.eat_word("WHERE") {
            Some(self.expr()?)
        } else {
            None
        };
        let mut group_by = Vec::new();
        if self.peek_word("GROUP") && self.peek_word_at(1, "BY") {
            self.at += 2;
            group_by = self.comma_list(Self::expr)?;
        }
        let mut order_by = Vec::new();
        if self.peek_word("ORDER") && self.peek_word_at(1, "BY") {
            self.at += 2;
            order_by = self.comma_list(|p| {
                let expr = p.expr()?;
                let descending = if p.eat_word("DESC") {
                    true
                } else {
                    p.eat_word("ASC");
                    false
                };
                Ok(SortKey { expr, descending })
            })?;
        }
        let offset_limit = if self.eat_word("OFFSET") {
            let offset = self.primary()?;
            self.expect_word("LIMIT")?;
            Some((offset, self.primary()?))
        } else {
            None
        };
        Ok(Query {
            select: Select {
                distinct,
                top,
                projection,
            },
            from,
            filter,
            group_by,
            order_by,
            offset_limit,
        })
    }

    fn comma_list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, QueryError>,
    ) -> Result<Vec<T>, QueryError> {
        let mut items = vec![item(self)?];
        while self.eat_symbol(",") {
            items.push(item(self)?);
        }
        Ok(items)
    }

    fn projection(&mut self) -> Result<Projection, QueryError> {
        if self.eat_symbol("*") {
            return Ok(Projection::Star);
        }
        if self.eat_word("VALUE") {
            return Ok(Projection::Value(self.expr()?));
        }
        let items = self.comma_list(|p| {
            let expr = p.expr()?;
            // `AS` is optional before an alias.
            let named =
                p.eat_word("AS") || matches!(p.peek(), Some(Token::Word(w)) if !is_reserved(w));
            let alias = if named { Some(p.identifier()?) } else { None };
            Ok(SelectItem { expr, alias })
        })?;
        Ok(Projection::List(items))
    }

    fn from(&mut self) -> Result<From, QueryError> {
        let source = self.source()?;
        let mut joins = Vec::new();
        while self.eat_word("JOIN") {
            joins.push(self.source()?);
        }
        Ok(From { source, joins })
    }

    /// `alias IN expr`, or a collection path with an optional alias.
    fn source(&mut self) -> Result<Source, QueryError> {
        if self.peek_symbol("(") {
            return Err(QueryError::Unsupported(
                "subqueries as FROM or JOIN sources".into(),
            ));
        }
        let name = self.identifier()?;
        if self.eat_word("IN") {
            return Ok(Source::Iterate {
                alias: name,
                expr: self.expr()?,
            });
        }
        let mut path = Vec::new();
        loop {
            if self.eat_symbol(".") {
                path.push(PathStep::Property(self.property_name()?));
            } else if self.eat_symbol("[") {
                match self.tokens.get(self.at).cloned() {
                    Some((Token::Str(s), _)) => path.push(PathStep::Property(s)),
                    Some((Token::Number(n), _)) if n.fract() == 0.0 && n >= 0.0 => {
                        path.push(PathStep::Index(n as i64))
                    }
                    _ => return Err(self.error()),
                }
                self.at += 1;
                self.expect_symbol("]")?;
            } else {
                break;
            }
        }
        let alias = if self.eat_word("AS")
            || matches!(self.peek(), Some(Token::Word(w)) if !is_reserved(w))
        {
            self.identifier()?
        } else {
            match path.last() {
                Some(PathStep::Property(p)) => p.clone(),
                _ => name.clone(),
            }
        };
        Ok(Source::Collection {
            root: name,
            alias,
            path,
        })
    }

    /// After `.`: any word, reserved or not (`c.value`, `c.select`).
    fn property_name(&mut self) -> Result<String, QueryError> {
        match self.peek() {
            Some(Token::Word(w)) => {
                let w = w.clone();
                self.at += 1;
                Ok(w)
            }
            _ => Err(self.error()),
        }
    }

    /// Runs `f` one nesting level deeper, refusing past [`MAX_DEPTH`].
    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, QueryError>,
    ) -> Result<T, QueryError> {
        if self.depth >= MAX_DEPTH {
            return Err(QueryError::Unsupported(format!(
                "expressions nested more than {MAX_DEPTH} deep"
            )));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn expr(&mut self) -> Result<Expr, QueryError> {
        self.nested(Self::conditional)
    }

    fn conditional(&mut self) -> Result<Expr, QueryError> {
        let test = self.or()?;
        if self.eat_symbol("?") {
            let then = self.expr()?;
            self.expect_symbol(":")?;
            let otherwise = self.expr()?;
            return Ok(Expr::Conditional {
                test: Box::new(test),
                then: Box::new(then),
                otherwise: Box::new(otherwise),
            });
        }
        if self.eat_symbol("??") {
            let right = self.expr()?;
            return Ok(Expr::Binary(
                BinaryOp::Coalesce,
                Box::new(test),
                Box::new(right),
            ));
        }
        Ok(test)
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut operands = vec![self.and()?];
        while self.eat_word("OR") {
            operands.push(self.and()?);
        }
        Ok(crate::depth::balanced(BinaryOp::Or, operands))
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut operands = vec![self.not()?];
        while self.eat_word("AND") {
            operands.push(self.not()?);
        }
        Ok(crate::depth::balanced(BinaryOp::And, operands))
    }

    fn not(&mut self) -> Result<Expr, QueryError> {
        if self.eat_word("NOT") {
            let operand = self.nested(Self::not)?;
            return Ok(Expr::Unary(UnaryOp::Not, Box::new(operand)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let left = self.binary(0)?;
        let negated = self.peek_word("NOT")
            && ["IN", "BETWEEN", "LIKE"]
                .iter()
                .any(|w| self.peek_word_at(1, w));
        if negated {
            self.at += 1;
        }
        if self.eat_word("IN") {
            self.expect_symbol("(")?;
            let list = if self.eat_symbol(")") {
                Vec::new()
            } else {
                let list = self.comma_list(Self::expr)?;
                self.expect_symbol(")")?;
                list
            };
            return Ok(Expr::In {
                value: Box::new(left),
                list,
                negated,
            });
        }
        if self.eat_word("BETWEEN") {
            let low = self.binary(0)?;
            self.expect_word("AND")?;
            let high = self.binary(0)?;
            return Ok(Expr::Between {
                value: Box::new(left),
                low: Box::new(low),
                high: Box::new(high),
                negated,
            });
        }
        if self.eat_word("LIKE") {
            let pattern = self.binary(0)?;
            let escape = if self.eat_word("ESCAPE") {
                Some(Box::new(self.binary(0)?))
            } else {
                None
            };
            return Ok(Expr::Like {
                value: Box::new(left),
                pattern: Box::new(pattern),
                escape,
                negated,
            });
        }
        if negated {
            return Err(self.error());
        }
        let op = match self.peek() {
            Some(Token::Symbol("=")) => BinaryOp::Equal,
            Some(Token::Symbol("!=" | "<>")) => BinaryOp::NotEqual,
            Some(Token::Symbol("<")) => BinaryOp::Less,
            Some(Token::Symbol("<=")) => BinaryOp::LessOrEqual,
            Some(Token::Symbol(">")) => BinaryOp::Greater,
            Some(Token::Symbol(">=")) => BinaryOp::GreaterOrEqual,
            _ => return Ok(left),
        };
        self.at += 1;
        let right = self.binary(0)?;
        Ok(Expr::Binary(op, Box::new(left), Box::new(right)))
    }

    /// Binary operators from `|` (level 0) to `* / %` (level 5).
    fn binary(&mut self, level: usize) -> Result<Expr, QueryError> {
        const LEVELS: [&[(&str, BinaryOp)]; 6] = [
            &[("|", BinaryOp::BitOr)],
            &[("^", BinaryOp::BitXor)],
            &[("&", BinaryOp::BitAnd)],
            &[
                ("<<", BinaryOp::ShiftLeft),
                (">>>", BinaryOp::ShiftRightZeroFill),
                (">>", BinaryOp::ShiftRight),
            ],
            &[
                ("+", BinaryOp::Add),
                ("-", BinaryOp::Subtract),
                ("||", BinaryOp::Concat),
            ],
            &[
                ("*", BinaryOp::Multiply),
                ("/", BinaryOp::Divide),
                ("%", BinaryOp::Modulo),
            ],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        'outer: loop {
            for (symbol, op) in LEVELS[level] {
                if self.eat_symbol(symbol) {
                    let right = self.binary(level + 1)?;
                    left = Expr::Binary(*op, Box::new(left), Box::new(right));
                    continue 'outer;
                }
            }
            return Ok(left);
        }
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        let op = if self.eat_symbol("-") {
            UnaryOp::Negate
        } else if self.eat_symbol("+") {
            UnaryOp::Plus
        } else if self.eat_symbol("~") {
            UnaryOp::BitNot
        } else {
            return self.postfix();
        };
        let operand = self.nested(Self::unary)?;
        Ok(Expr::Unary(op, Box::new(operand)))
    }

    fn postfix(&mut self) -> Result<Expr, QueryError> {
        let mut expr = self.primary()?;
        loop {
            if self.eat_symbol(".") {
                expr = Expr::Property(Box::new(expr), self.property_name()?);
            } else if self.eat_symbol("[") {
                let index = self.expr()?;
                self.expect_symbol("]")?;
                expr = match index {
                    Expr::Literal(Value::String(s)) => Expr::Property(Box::new(expr), s),
                    other => Expr::Index(Box::new(expr), Box::new(other)),
                };
            } else {
                return Ok(expr);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let Some((token, _)) = self.tokens.get(self.at).cloned() else {
            return Err(self.error());
        };
        self.at += 1;
        match token {
            Token::Number(n) => Ok(Expr::Literal(number(n))),
            Token::Str(s) => Ok(Expr::Literal(Value::String(s))),
            Token::Parameter(p) => Ok(Expr::Parameter(p)),
            Token::Symbol("(") => {
                if self.peek_word("SELECT") {
                    let q = self.query()?;
                    self.expect_symbol(")")?;
                    return Ok(Expr::ScalarSubquery(Box::new(q)));
                }
                let e = self.expr()?;
                self.expect_symbol(")")?;
                Ok(e)
            }
            Token::Symbol("[") => {
                let items = if self.eat_symbol("]") {
                    Vec::new()
                } else {
                    let items = self.comma_list(Self::expr)?;
                    self.expect_symbol("]")?;
                    items
                };
                Ok(Expr::Array(items))
            }
            Token::Symbol("{") => self.object(),
            Token::Word(w) => self.word(w),
            _ => {
                self.at -= 1;
                Err(self.error())
            }
        }
    }

    fn object(&mut self) -> Result<Expr, QueryError> {
        let mut fields = Vec::new();
        if self.eat_symbol("}") {
            return Ok(Expr::Object(fields));
        }
        loop {
            let key = match self.tokens.get(self.at).cloned() {
                Some((Token::Str(s), _)) | Some((Token::Word(s), _)) => s,
                _ => return Err(self.error()),
            };
            self.at += 1;
            self.expect_symbol(":")?;
            fields.push((key, self.expr()?));
            if self.eat_symbol("}") {
                return Ok(Expr::Object(fields));
            }
            self.expect_symbol(",")?;
        }
    }

    fn word(&mut self, w: String) -> Result<Expr, QueryError> {
        let upper = w.to_ascii_uppercase();
        match upper.as_str() {
            "TRUE" => return Ok(Expr::Literal(Value::Bool(true))),
            "FALSE" => return Ok(Expr::Literal(Value::Bool(false))),
            "NULL" => return Ok(Expr::Literal(Value::Null)),
            "UNDEFINED" => return Ok(Expr::Undefined),
            "EXISTS" | "ARRAY"
                if self.peek_symbol("(")
                    && matches!(self.tokens.get(self.at + 1), Some((Token::Word(s), _)) if s.eq_ignore_ascii_case("SELECT")) =>
            {
                self.at += 1;
                let q = Box::new(self.query()?);
                self.expect_symbol(")")?;
                return Ok(if upper == "EXISTS" {
                    Expr::Exists(q)
                } else {
                    Expr::ArraySubquery(q)
                });
            }
            "UDF" if self.peek_symbol(".") => {
                self.at += 1;
                let name = self.property_name()?;
                let args = self.arguments()?;
                return Ok(Expr::Call {
                    name,
                    args,
                    udf: true,
                });
            }
            _ => {}
        }
        if self.peek_symbol("(") {
            let args = self.arguments()?;
            return Ok(Expr::Call {
                name: upper,
                args,
                udf: false,
            });
        }
        if is_reserved(&w) {
            self.at -= 1;
            return Err(self.error());
        }
        Ok(Expr::Identifier(w))
    }

    fn arguments(&mut self) -> Result<Vec<Expr>, QueryError> {
        self.expect_symbol("(")?;
        if self.eat_symbol(")") {
            return Ok(Vec::new());
        }
        let args = self.comma_list(Self::expr)?;
        self.expect_symbol(")")?;
        Ok(args)
    }
}

/// Integers stay integers, as the service keeps them.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        Value::from(n as i64)
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => w.clone(),
        Token::Str(s) => format!("'{s}'"),
        Token::Number(n) => n.to_string(),
        Token::Parameter(p) => p.clone(),
        Token::Symbol(s) => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Query {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_the_language() {
        for q in [
            "SELECT * FROM c",
            "select value c.id from c where c.a.b[0] = @p",
            "SELECT DISTINCT TOP 5 c.a, c.b AS bee, c['quoted name'] FROM root c",
            "SELECT VALUE COUNT(1) FROM c",
            "SELECT c.g, SUM(c.n) AS total FROM c GROUP BY c.g",
            "SELECT * FROM c ORDER BY c.a DESC, c.b ASC OFFSET 10 LIMIT 5",
            "SELECT t FROM c JOIN t IN c.tags WHERE t.name LIKE 'a%' ESCAPE '!'",
            "SELECT * FROM ch IN c.children",
            "SELECT * FROM c WHERE c.n BETWEEN 1 AND 5 AND c.x NOT IN (1, 2, 'a')",
            "SELECT {\"a\": c.a, b: [1, 2, c.b]} FROM c",
            "SELECT VALUE c.a ?? c.b ? 'x' : 'y' FROM c",
            "SELECT * FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t = 'x')",
            "SELECT ARRAY(SELECT VALUE t FROM t IN c.tags) AS tags FROM c",
            "SELECT (SELECT VALUE COUNT(1) FROM t IN c.tags) AS n FROM c",
            "SELECT VALUE udf.tax(c.price) FROM c",
            "SELECT VALUE c.a || 'x' FROM c WHERE NOT c.deleted AND c.n % 2 = 1 OR c.m <> 3",
            "SELECT VALUE -c.n * (2 + 3) >> 1 FROM c",
            "SELECT c.value, c.select FROM c",
            "SELECT VALUE 1",
        ] {
            ok(q);
        }
    }

    #[test]
    fn precedence() {
        let q = ok("SELECT VALUE 1 + 2 * 3 FROM c");
        let Projection::Value(Expr::Binary(BinaryOp::Add, _, right)) = q.select.projection else {
            panic!("shape")
        };
        assert!(matches!(*right, Expr::Binary(BinaryOp::Multiply, _, _)));
        let q = ok("SELECT * FROM c WHERE c.a = 1 OR c.b = 2 AND c.c = 3");
        assert!(matches!(q.filter, Some(Expr::Binary(BinaryOp::Or, _, _))));
        let q = ok("SELECT * FROM c WHERE NOT c.a = 1");
        assert!(matches!(q.filter, Some(Expr::Unary(UnaryOp::Not, _))));
    }

    #[test]
    fn errors_name_the_token_and_position() {
        assert_eq!(
            parse("SELECT * FORM c"),
            Err(QueryError::Syntax {
                token: "FORM".into(),
                position: 9
            })
        );
        assert!(matches!(
            parse("SELECT * FROM c WHERE"),
            Err(QueryError::Syntax { .. })
        ));
        assert!(parse("SELECT FROM c").is_err());
        assert!(parse("SELECT * FROM c ORDER c.a").is_err());
        assert!(parse(&format!(
            "SELECT VALUE {}1{} FROM c",
            "(".repeat(500),
            ")".repeat(500)
        ))
        .is_err());
        assert!(parse(&format!("SELECT VALUE {}1 FROM c", "-".repeat(5000))).is_err());
        assert!(parse(&format!(
            "SELECT * FROM c WHERE {}true",
            "NOT ".repeat(5000)
        ))
        .is_err());
        assert!(parse(&format!(
            "SELECT VALUE {}1{} FROM c",
            "[".repeat(5000),
            "]".repeat(5000)
        ))
        .is_err());
        assert!(parse(&format!(
            "SELECT VALUE {}1{} FROM c",
            "(".repeat(60),
            ")".repeat(60)
        ))
        .is_ok());
    }
}
