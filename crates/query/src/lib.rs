//! The Cosmos DB NoSQL query language: lexer, parser, value semantics,
//! built-in functions and an executor.
//!
//! ```text
//! text --lexer--> tokens --parser--> Query --validate--> --run--> results
//! ```
//!
//! Semantics follow the service: `undefined` is distinct from `null` and
//! propagates through expressions; comparing different types is undefined
//! (so `WHERE` drops the row) while `ORDER BY` orders across types.

mod ast;
mod clock;
mod depth;
mod eval;
mod exec;
mod functions;
mod lexer;
mod parser;
mod paths;
mod plan;
mod print;
mod rewrite;
mod validate;
mod value;

pub use ast::*;
pub use eval::{parameters_from_json, Context, Parameters, UserFunctions};
pub use parser::parse;
pub use plan::{query_info, required_features, ORDER_BY_FILTER_PLACEHOLDER};
pub use rewrite::ComputedProperty;
pub use value::compare as compare_values;
pub use value::Val;

use thiserror::Error;

/// Why a query cannot run. Every variant is the client's to fix (a 400).
#[derive(Debug, Clone, Error, PartialEq)]
pub enum QueryError {
    #[error("Syntax error, incorrect syntax near '{token}' at position {position}.")]
    Syntax { token: String, position: usize },
    #[error("{0}")]
    Semantic(String),
    #[error("This query is not supported yet: {0}")]
    Unsupported(String),
    #[error("The query parameter '{0}' is used but not supplied.")]
    MissingParameter(String),
}
