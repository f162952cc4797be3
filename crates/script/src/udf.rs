//! User-defined functions, compiled once per query and called per row.

use std::collections::HashMap;

use rquickjs::{Function, Persistent};
use serde_json::Value;

use crate::sandbox::Sandbox;
use crate::{Limits, ScriptError};

/// A query's user-defined functions, ready to call. The limits cover the
/// whole query: its deadline starts when the set is made.
pub struct Udfs {
    functions: HashMap<String, Persistent<Function<'static>>>,
    // Declared last so the functions above are released before their engine.
    sandbox: Sandbox,
}

impl Udfs {
    /// Compiles each `(name, source)`.
    pub fn new<'a>(
        definitions: impl IntoIterator<Item = (&'a str, &'a str)>,
        limits: Limits,
    ) -> Result<Self, ScriptError> {
        let sandbox = Sandbox::new(limits)?;
        let mut functions = HashMap::new();
        for (name, source) in definitions {
            functions.insert(name.to_string(), sandbox.compile(source)?);
        }
        Ok(Self { functions, sandbox })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.functions.contains_key(name)
    }

    /// Calls `name` with `arguments`; `None` when it returns `undefined`
    /// (or a value JSON cannot hold, such as a function).
    pub fn call(&self, name: &str, arguments: &[Value]) -> Result<Option<Value>, ScriptError> {
        let function = self
            .functions
            .get(name)
            .ok_or_else(|| ScriptError::Thrown {
                message: format!("The user-defined function '{name}' does not exist."),
                status: Some(400),
            })?;
        let arguments = Value::Array(arguments.to_vec()).to_string();
        let result: Option<String> = self.sandbox.with(|ctx| {
            let call: Function = ctx.globals().get("__cosmonautCall")?;
            call.call((function.clone().restore(ctx)?, arguments))
        })?;
        Ok(result.and_then(|text| serde_json::from_str(&text).ok()))
    }
}
