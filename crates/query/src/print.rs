//! Query text from a syntax tree. Every compound expression is
//! parenthesised and every property is written `["name"]`, so the text parses
//! back to the same tree whatever the names and precedences.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::*;

fn list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        if self.select.distinct {
            f.write_str("DISTINCT ")?;
        }
        if let Some(top) = &self.select.top {
            write!(f, "TOP {top} ")?;
        }
        match &self.select.projection {
            Projection::Star => f.write_char('*')?,
            Projection::Value(e) => write!(f, "VALUE {e}")?,
            Projection::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", item.expr)?;
                    if let Some(alias) = &item.alias {
                        write!(f, " AS {alias}")?;
                    }
                }
            }
        }
        if let Some(from) = &self.from {
            write!(f, " FROM {}", from.source)?;
            for join in &from.joins {
                write!(f, " JOIN {join}")?;
            }
        }
        if let Some(filter) = &self.filter {
            write!(f, " WHERE {filter}")?;
        }
        if !self.group_by.is_empty() {
            f.write_str(" GROUP BY ")?;
            list(f, &self.group_by)?;
        }
        if !self.order_by.is_empty() {
            f.write_str(" ORDER BY ")?;
            for (i, key) in self.order_by.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(
                    f,
                    "{}{}",
                    key.expr,
                    if key.descending { " DESC" } else { " ASC" }
                )?;
            }
        }
        if let Some((offset, limit)) = &self.offset_limit {
            write!(f, " OFFSET {offset} LIMIT {limit}")?;
        }
        Ok(())
    }
}

impl Display for Source {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Source::Collection { root, alias, path } => {
                f.write_str(root)?;
                for step in path {
                    match step {
                        PathStep::Property(p) => write!(f, "[{}]", quoted(p))?,
                        PathStep::Index(i) => write!(f, "[{i}]")?,
                    }
                }
                write!(f, " AS {alias}")
            }
            Source::Iterate { alias, expr } => write!(f, "{alias} IN {expr}"),
        }
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal(v) => write!(f, "{v}"),
            Expr::Undefined => f.write_str("undefined"),
            Expr::Parameter(p) | Expr::Identifier(p) => f.write_str(p),
            Expr::Property(e, name) => write!(f, "{e}[{}]", quoted(name)),
            Expr::Index(e, i) => write!(f, "{e}[{i}]"),
            Expr::Unary(op, e) => {
                let op = match op {
                    UnaryOp::Not => "NOT ",
                    UnaryOp::Negate => "-",
                    UnaryOp::Plus => "+",
                    UnaryOp::BitNot => "~",
                };
                write!(f, "({op}{e})")
            }
            Expr::Binary(op, a, b) => write!(f, "({a} {} {b})", binary_symbol(*op)),
            Expr::Between {
                value,
                low,
                high,
                negated,
            } => {
                write!(
                    f,
                    "({value} {}BETWEEN {low} AND {high})",
                    if *negated { "NOT " } else { "" }
                )
            }
            Expr::In {
                value,
                list: items,
                negated,
            } => {
                write!(f, "({value} {}IN (", if *negated { "NOT " } else { "" })?;
                list(f, items)?;
                f.write_str("))")
            }
            Expr::Like {
                value,
                pattern,
                escape,
                negated,
            } => {
                write!(
                    f,
                    "({value} {}LIKE {pattern}",
                    if *negated { "NOT " } else { "" }
                )?;
                if let Some(e) = escape {
                    write!(f, " ESCAPE {e}")?;
                }
                f.write_char(')')
            }
            Expr::Conditional {
                test,
                then,
                otherwise,
            } => write!(f, "({test} ? {then} : {otherwise})"),
            Expr::Call { name, args, udf } => {
                if *udf {
                    f.write_str("udf.")?;
                }
                write!(f, "{name}(")?;
                list(f, args)?;
                f.write_char(')')
            }
            Expr::Array(items) => {
                f.write_char('[')?;
                list(f, items)?;
                f.write_char(']')
            }
            Expr::Object(fields) => {
                f.write_char('{')?;
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {value}", quoted(key))?;
                }
                f.write_char('}')
            }
            Expr::Exists(q) => write!(f, "EXISTS({q})"),
            Expr::ArraySubquery(q) => write!(f, "ARRAY({q})"),
            Expr::ScalarSubquery(q) => write!(f, "({q})"),
        }
    }
}

fn binary_symbol(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Or => "OR",
        BinaryOp::And => "AND",
        BinaryOp::Equal => "=",
        BinaryOp::NotEqual => "!=",
        BinaryOp::Less => "<",
        BinaryOp::LessOrEqual => "<=",
        BinaryOp::Greater => ">",
        BinaryOp::GreaterOrEqual => ">=",
        BinaryOp::Add => "+",
        BinaryOp::Subtract => "-",
        BinaryOp::Multiply => "*",
        BinaryOp::Divide => "/",
        BinaryOp::Modulo => "%",
        BinaryOp::Concat => "||",
        BinaryOp::BitAnd => "&",
        BinaryOp::BitOr => "|",
        BinaryOp::BitXor => "^",
        BinaryOp::ShiftLeft => "<<",
        BinaryOp::ShiftRight => ">>",
        BinaryOp::ShiftRightZeroFill => ">>>",
        BinaryOp::Coalesce => "??",
    }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn printed_queries_parse_back_to_the_same_tree() {
        for text in [
            "SELECT * FROM c",
            "SELECT DISTINCT TOP 3 c.a, c['odd name'] AS b FROM root c JOIN t IN c.tags WHERE t.x BETWEEN 1 AND 2",
            "SELECT VALUE {\"k\": [1, 'two', null, true], \"n\": -c.n} FROM c WHERE c.s LIKE 'a%' ESCAPE '!' AND c.v NOT IN (1, 2)",
            "SELECT c.g, COUNT(1) AS n FROM c GROUP BY c.g",
            "SELECT * FROM c WHERE (c.a ?? c.b) = 1 OR NOT c.c ORDER BY c.a DESC, c.b OFFSET 1 LIMIT 2",
            "SELECT VALUE EXISTS(SELECT VALUE 1 FROM t IN c.tags) ? 'y' : 'n' FROM c",
            "SELECT * FROM c.children[0] ch",
            "SELECT VALUE udf.f(c.a) FROM c",
        ] {
            let tree = parse(text).expect("parse");
            let printed = tree.to_string();
            assert_eq!(parse(&printed).expect(&printed), tree, "{printed}");
        }
    }
}
