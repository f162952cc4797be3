use serde_json::Value;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The name the `FROM` clause gives each document.
    pub alias: String,
    pub filter: Option<Expr>,
}

/// An expression of the `WHERE` clause.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A property path below the document, `c.a.b` or `c["a"]`.
    Property(Vec<String>),
    Literal(Value),
    Parameter(String),
    Equal(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
}
