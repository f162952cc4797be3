//! The syntax tree of a NoSQL query.

use serde_json::Value;

/// `SELECT ... FROM ... WHERE ... GROUP BY ... ORDER BY ... OFFSET ... LIMIT ...`
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub select: Select,
    pub from: Option<From>,
    pub filter: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub order_by: Vec<SortKey>,
    pub offset_limit: Option<(Expr, Expr)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub distinct: bool,
    pub top: Option<Expr>,
    pub projection: Projection,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    /// `SELECT *`: the single input document.
    Star,
    /// `SELECT VALUE expr`.
    Value(Expr),
    /// `SELECT a, b AS x`: an object per row.
    List(Vec<SelectItem>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SelectItem {
    pub expr: Expr,
    pub alias: Option<String>,
}

/// `FROM <source> [JOIN <source>]*`.
#[derive(Debug, Clone, PartialEq)]
pub struct From {
    pub source: Source,
    pub joins: Vec<Source>,
}

/// One input set and the name its rows are bound to.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `c`, `root r`, `c.children ch`: the documents, or a path into each.
    /// `root` is the name written first (`c` in `c.children`).
    Collection {
        root: String,
        alias: String,
        path: Vec<PathStep>,
    },
    /// `x IN expr`: every element of an array.
    Iterate { alias: String, expr: Expr },
}

impl Source {
    pub fn alias(&self) -> &str {
        match self {
            Source::Collection { alias, .. } | Source::Iterate { alias, .. } => alias,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PathStep {
    Property(String),
    Index(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Negate,
    Plus,
    BitNot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
    Concat,
    BitAnd,
    BitOr,
    BitXor,
    ShiftLeft,
    ShiftRight,
    ShiftRightZeroFill,
    Coalesce,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Value),
    Undefined,
    Parameter(String),
    /// A name bound by `FROM` or `JOIN`.
    Identifier(String),
    Property(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Between {
        value: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    In {
        value: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Like {
        value: Box<Expr>,
        pattern: Box<Expr>,
        escape: Option<Box<Expr>>,
        negated: bool,
    },
    Conditional {
        test: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// A system function, or `udf.name(...)` when `udf` is set.
    Call {
        name: String,
        args: Vec<Expr>,
        udf: bool,
    },
    Array(Vec<Expr>),
    Object(Vec<(String, Expr)>),
    Exists(Box<Query>),
    ArraySubquery(Box<Query>),
    ScalarSubquery(Box<Query>),
}
