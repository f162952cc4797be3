//! One QuickJS runtime with the prelude loaded, a memory cap and a deadline.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use rquickjs::{Context, Ctx, Function, Object, Runtime};
use serde_json::{json, Value};

use crate::collection::{self, Collection};
use crate::{Invocation, Limits, Outcome, ScriptError};

const PRELUDE: &str = include_str!("prelude.js");
/// Deep recursion fails as a script error well before the thread's stack ends.
const MAX_STACK_BYTES: usize = 512 * 1024;

pub(crate) struct Sandbox {
    // Field order matters: the context must go before its runtime.
    context: Context,
    _runtime: Runtime,
    limits: Limits,
    deadline: Rc<Cell<Instant>>,
    stopped: Rc<Cell<bool>>,
}

impl Sandbox {
    pub(crate) fn new(limits: Limits) -> Result<Self, ScriptError> {
        let engine_error = |e: rquickjs::Error| ScriptError::Compile(e.to_string());
        let runtime = Runtime::new().map_err(engine_error)?;
        runtime.set_memory_limit(limits.memory_bytes);
        runtime.set_max_stack_size(MAX_STACK_BYTES);
        let deadline = Rc::new(Cell::new(Instant::now() + limits.timeout));
        let stopped = Rc::new(Cell::new(false));
        let (watch, flag) = (deadline.clone(), stopped.clone());
        runtime.set_interrupt_handler(Some(Box::new(move || {
            let over = Instant::now() > watch.get();
            if over {
                flag.set(true);
            }
            over
        })));
        let context = Context::full(&runtime).map_err(engine_error)?;
        let sandbox = Self {
            context,
            _runtime: runtime,
            limits,
            deadline,
            stopped,
        };
        sandbox.with(|ctx| ctx.eval::<(), _>(PRELUDE))?;
        Ok(sandbox)
    }

    /// Runs `work` in the context, turning a JavaScript exception into the
    /// error the script should report.
    pub(crate) fn with<T>(
        &self,
        work: impl for<'js> FnOnce(&Ctx<'js>) -> rquickjs::Result<T>,
    ) -> Result<T, ScriptError> {
        self.context.with(|ctx| match work(&ctx) {
            Ok(value) => Ok(value),
            Err(error) => Err(self.failure(&ctx, error)),
        })
    }

    fn failure(&self, ctx: &Ctx<'_>, error: rquickjs::Error) -> ScriptError {
        if self.stopped.get() {
            return ScriptError::Timeout(self.limits.timeout);
        }
        if !error.is_exception() {
            return match error {
                rquickjs::Error::Allocation => ScriptError::OutOfMemory(self.limits.memory_bytes),
                other => ScriptError::Thrown {
                    message: other.to_string(),
                    status: None,
                },
            };
        }
        let thrown = ctx.catch();
        let described: Option<String> = ctx
            .globals()
            .get::<_, Object>("__cosmonaut")
            .and_then(|api| api.get::<_, Function>("describe"))
            .and_then(|describe| describe.call((thrown,)))
            .ok();
        let parsed: Value = described
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or(Value::Null);
        let message = parsed["message"]
            .as_str()
            .unwrap_or("an unknown error")
            .to_string();
        if message.contains("out of memory") {
            return ScriptError::OutOfMemory(self.limits.memory_bytes);
        }
        let status = parsed["number"]
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| (400..600).contains(n));
        ScriptError::Thrown { message, status }
    }

    /// Restarts the deadline, for a sandbox used again.
    pub(crate) fn restart_clock(&self) {
        self.deadline.set(Instant::now() + self.limits.timeout);
    }

    fn past_deadline(&self) -> bool {
        Instant::now() > self.deadline.get()
    }

    pub(crate) fn run(
        &self,
        source: &str,
        invocation: &Invocation,
        collection: &mut dyn Collection,
    ) -> Result<Outcome, ScriptError> {
        self.restart_clock();
        let settings = json!({
            "selfLink": invocation.self_link,
            "operation": invocation.operation,
            "headers": invocation.headers,
            "requestBody": invocation.request_body,
            "responseBody": invocation.response_body,
            "logging": invocation.logging,
        })
        .to_string();
        let arguments = Value::Array(invocation.arguments.clone()).to_string();
        self.with(|ctx| api(ctx, "begin")?.call::<_, ()>((settings,)))?;
        let entry = self.compile(source)?;
        self.with(|ctx| {
            let call: Function = ctx.globals().get("__cosmonautCall")?;
            call.call::<_, rquickjs::Value>((entry.clone().restore(ctx)?, arguments))?;
            Ok(())
        })?;
        loop {
            let taken: String = self.with(|ctx| {
                while ctx.execute_pending_job() {}
                api(ctx, "take")?.call(())
            })?;
            let calls: Vec<Value> = serde_json::from_str(&taken).unwrap_or_default();
            if calls.is_empty() {
                break;
            }
            let results: Vec<Value> = calls
                .iter()
                .map(
                    |call| match collection::parse(call).and_then(|r| collection.execute(r)) {
                        Ok(value) => json!({ "value": value }),
                        Err(e) => json!({ "error": { "number": e.status, "message": e.message } }),
                    },
                )
                .collect();
            if self.past_deadline() {
                return Err(ScriptError::Timeout(self.limits.timeout));
            }
            let results = Value::Array(results).to_string();
            self.with(|ctx| api(ctx, "deliver")?.call::<_, ()>((results,)))?;
        }
        let finished: String = self.with(|ctx| api(ctx, "finish")?.call(()))?;
        let state: Value = serde_json::from_str(&finished).unwrap_or(Value::Null);
        let present = |v: &Value| (!v.is_null()).then(|| v.clone());
        Ok(Outcome {
            response_body: state["responseSet"]
                .as_bool()
                .unwrap_or(false)
                .then(|| state["responseBody"].clone()),
            request_body: present(&state["requestBody"]),
            log: state["log"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// The function `source` defines: evaluated as an expression (`function
    /// (a) {...}`), else as a method (`name(a) {...}`), or else as a script
    /// whose first declared function is the entry point, as scripts with
    /// helper functions are written.
    pub(crate) fn compile(
        &self,
        source: &str,
    ) -> Result<rquickjs::Persistent<Function<'static>>, ScriptError> {
        let as_expression = self.with(|ctx| {
            let f: Function = ctx.eval(format!("(\n{source}\n)"))?;
            Ok(rquickjs::Persistent::save(ctx, f))
        });
        if let Ok(entry) = as_expression {
            return Ok(entry);
        }
        // A method written on its own (`run(doc) {...}`, as classes and object
        // literals spell them): the one method of an object literal.
        let as_method = self.with(|ctx| {
            let f: Function = ctx.eval(format!(
                "(() => {{ const o = ({{\n{source}\n}}); const k = Object.keys(o); \
                 if (k.length !== 1 || typeof o[k[0]] !== 'function') throw 0; return o[k[0]]; }})()"
            ))?;
            Ok(rquickjs::Persistent::save(ctx, f))
        });
        if let Ok(entry) = as_method {
            return Ok(entry);
        }
        let name = first_function_name(source)
            .ok_or_else(|| ScriptError::Compile("the script does not define a function.".into()))?;
        let compiled = self.with(|ctx| {
            ctx.eval::<(), _>(source)?;
            let f: Function = ctx.globals().get(name.as_str())?;
            Ok(rquickjs::Persistent::save(ctx, f))
        });
        compiled.map_err(|e| match e {
            ScriptError::Thrown { message, .. } => ScriptError::Compile(message),
            other => other,
        })
    }
}

fn api<'js>(ctx: &Ctx<'js>, name: &str) -> rquickjs::Result<Function<'js>> {
    ctx.globals().get::<_, Object>("__cosmonaut")?.get(name)
}

/// The name after the first `function` keyword, if it names one.
fn first_function_name(source: &str) -> Option<String> {
    let at = source.find("function")?;
    let rest = source[at + "function".len()..].trim_start();
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
        .collect();
    (!name.is_empty()).then_some(name)
}
