//! The Cosmos DB NoSQL query language.
//!
//! Today this covers the subset the SDKs need for plain reads:
//! `SELECT * FROM c` with an optional `WHERE` of equalities joined by `AND`,
//! against literals or `@parameters`. The full language (projections, ORDER
//! BY, aggregates, functions, joins) grows here.

mod ast;
mod eval;
mod lexer;
mod parser;

pub use ast::{Expr, Query};
pub use eval::Parameters;
pub use parser::parse;

use thiserror::Error;

/// A query the server cannot run, with where and why.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum QueryError {
    #[error("Syntax error, incorrect syntax near '{token}' at position {position}.")]
    Syntax { token: String, position: usize },
    #[error("This query is not supported yet: {0}")]
    Unsupported(String),
    #[error("The query parameter '{0}' is used but not supplied.")]
    MissingParameter(String),
}
