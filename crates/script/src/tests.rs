use std::time::Duration;

use serde_json::{json, Value};

use super::*;

/// A collection over a plain list, recording what it was asked.
#[derive(Default)]
struct Recorder {
    documents: Vec<Value>,
    calls: Vec<CollectionRequest>,
}

impl Collection for Recorder {
    fn execute(&mut self, request: CollectionRequest) -> Result<Value, CollectionError> {
        self.calls.push(request.clone());
        match request {
            CollectionRequest::Create { document, .. } => {
                if self.documents.iter().any(|d| d["id"] == document["id"]) {
                    return Err(CollectionError {
                        status: 409,
                        message: "conflict".into(),
                    });
                }
                self.documents.push(document.clone());
                Ok(document)
            }
            CollectionRequest::Query { .. } => Ok(Value::Array(self.documents.clone())),
            _ => Ok(Value::Null),
        }
    }
}

fn sproc(source: &str, arguments: Vec<Value>) -> (Result<Outcome, ScriptError>, Recorder) {
    let mut recorder = Recorder::default();
    let invocation = Invocation {
        self_link: "dbs/d/colls/c/".into(),
        arguments,
        response_body: Some(json!("")),
        ..Invocation::default()
    };
    let limits = Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    (run(source, &invocation, &mut recorder, limits), recorder)
}

#[test]
fn sets_the_response_from_arguments() {
    let (outcome, _) = sproc(
        "function hello(name, n) { getContext().getResponse().setBody({ greeting: 'hi ' + name, twice: n * 2 }); }",
        vec![json!("ann"), json!(21)],
    );
    let outcome = outcome.expect("runs");
    assert_eq!(
        outcome.response_body,
        Some(json!({"greeting": "hi ann", "twice": 42}))
    );
}

#[test]
fn callbacks_run_in_order_and_may_queue_more() {
    let source = r#"
        function bulk(docs) {
            var collection = getContext().getCollection();
            var created = 0;
            function next(i) {
                if (i >= docs.length) {
                    getContext().getResponse().setBody(created);
                    return;
                }
                collection.createDocument(collection.getSelfLink(), docs[i], function (err) {
                    if (err) throw err;
                    created++;
                    next(i + 1);
                });
            }
            next(0);
        }"#;
    let docs = json!([{"id": "a"}, {"id": "b"}, {"id": "c"}]);
    let (outcome, recorder) = sproc(source, vec![docs]);
    assert_eq!(outcome.expect("runs").response_body, Some(json!(3)));
    assert_eq!(recorder.documents.len(), 3);
}

#[test]
fn a_rethrown_collection_error_keeps_its_status() {
    let source = r#"
        function twice() {
            var c = getContext().getCollection();
            c.createDocument(c.getSelfLink(), {id: "x"});
            c.createDocument(c.getSelfLink(), {id: "x"}, {}, function (err) {
                if (err && err.number === ErrorCodes.Conflict) throw err;
            });
        }"#;
    let (outcome, _) = sproc(source, vec![]);
    match outcome {
        Err(ScriptError::Thrown { status, message }) => {
            assert_eq!(status, Some(409));
            assert!(message.contains("conflict"), "{message}");
        }
        other => panic!("expected a thrown conflict, got {other:?}"),
    }
}

#[test]
fn a_failed_call_without_a_callback_fails_the_script() {
    let source = "function f() { var c = getContext().getCollection(); c.createDocument('', {id: 'x'}); c.createDocument('', {id: 'x'}); }";
    let (outcome, _) = sproc(source, vec![]);
    assert!(matches!(
        outcome,
        Err(ScriptError::Thrown {
            status: Some(409),
            ..
        })
    ));
}

#[test]
fn thrown_strings_and_errors_are_reported() {
    let (outcome, _) = sproc("function f() { throw 'no way'; }", vec![]);
    assert_eq!(
        outcome,
        Err(ScriptError::Thrown {
            message: "no way".into(),
            status: None
        })
    );
    let (outcome, _) = sproc("function f() { null.x; }", vec![]);
    assert!(
        matches!(outcome, Err(ScriptError::Thrown { message, .. }) if message.starts_with("TypeError"))
    );
}

#[test]
fn endless_loops_are_stopped() {
    let (outcome, _) = sproc("function f() { while (true) {} }", vec![]);
    assert!(matches!(outcome, Err(ScriptError::Timeout(_))));
}

#[test]
fn runaway_memory_and_recursion_are_stopped() {
    let mut recorder = Recorder::default();
    let limits = Limits {
        timeout: Duration::from_secs(5),
        memory_bytes: 8 * 1024 * 1024,
    };
    let source = "function f() { var a = []; while (true) a.push('xxxxxxxxxxxxxxxx' + a.length); }";
    let outcome = run(source, &Invocation::default(), &mut recorder, limits);
    assert!(
        matches!(outcome, Err(ScriptError::OutOfMemory(_))),
        "{outcome:?}"
    );
    let (outcome, _) = sproc("function f() { f(); }", vec![]);
    assert!(
        matches!(outcome, Err(ScriptError::Thrown { .. })),
        "{outcome:?}"
    );
}

#[test]
fn syntax_errors_are_compile_errors() {
    let (outcome, _) = sproc("function f( {", vec![]);
    assert!(
        matches!(outcome, Err(ScriptError::Compile(_))),
        "{outcome:?}"
    );
    let (outcome, _) = sproc("var x = 1;", vec![]);
    assert!(
        matches!(outcome, Err(ScriptError::Compile(_))),
        "{outcome:?}"
    );
}

#[test]
fn helper_functions_after_the_entry_point_work() {
    let source = "function main() { getContext().getResponse().setBody(helper()); }\nfunction helper() { return 7; }";
    let (outcome, _) = sproc(source, vec![]);
    assert_eq!(outcome.expect("runs").response_body, Some(json!(7)));
}

#[test]
fn triggers_see_and_change_the_request() {
    let mut recorder = Recorder::default();
    let invocation = Invocation {
        operation: "Create".into(),
        request_body: Some(json!({"id": "a"})),
        ..Invocation::default()
    };
    let source = r#"function stamp() {
        var r = getContext().getRequest();
        var body = r.getBody();
        body.stamped = r.getOperationType();
        r.setBody(body);
        if (getContext().getResponse !== undefined) throw "a pre-trigger has no response";
    }"#;
    let outcome = run(source, &invocation, &mut recorder, Limits::default()).expect("runs");
    assert_eq!(
        outcome.request_body,
        Some(json!({"id": "a", "stamped": "Create"}))
    );
    assert_eq!(outcome.response_body, None);
}

/// A stored procedure as the service starts one: an empty string body.
fn sproc_with_logging(source: &str) -> Result<Outcome, ScriptError> {
    let invocation = Invocation {
        response_body: Some(json!("")),
        logging: true,
        ..Invocation::default()
    };
    run(
        source,
        &invocation,
        &mut Recorder::default(),
        Limits::default(),
    )
}

#[test]
fn console_log_formats_as_the_service_does() {
    let outcome =
        sproc_with_logging("function f() { console.log('The value of %s is %s.', 'x', 1); }")
            .expect("runs");
    assert_eq!(outcome.log, "The value of x is 1.");
    // Calls run together; one argument goes in as it is; only %s and %%
    // are substitutions; missing ones print as undefined; extras are dropped.
    let outcome = sproc_with_logging(
        "function f() { console.log('a'); console.log({}); console.log(7); \
         console.log('%d%% %s %s', 'b'); console.log('c', 'unused'); }",
    )
    .expect("runs");
    assert_eq!(outcome.log, "a[object Object]7%d% b undefinedc");
    // Several arguments need a format string first.
    let outcome = sproc_with_logging("function f() { console.log(1, 2); }");
    assert!(
        matches!(
            outcome,
            Err(ScriptError::Thrown {
                status: Some(400),
                ..
            })
        ),
        "{outcome:?}"
    );
}

#[test]
fn console_log_does_nothing_unless_logging_was_asked_for() {
    let (outcome, _) = sproc(
        "function f() { console.log('quiet %s', 1); console.log(); }",
        vec![],
    );
    assert_eq!(outcome.expect("runs").log, "");
}

#[test]
fn the_response_body_starts_empty_and_keeps_its_types() {
    let body = |source: &str| sproc_with_logging(source).expect("runs").response_body;
    assert_eq!(
        body("function f() { for (var i = 0; i < 10; i++) getContext().getResponse().appendValue('Body', i); }"),
        Some(json!("0123456789"))
    );
    assert_eq!(
        body("function f() { var r = getContext().getResponse(); r.setBody(1); r.appendBody(2); }"),
        Some(json!(3))
    );
    assert_eq!(
        body(
            "function f() { var r = getContext().getResponse(); \
             for (var i = 0; i < 1000; i++) { var b = r.getBody(); \
             if (i > 0 && b !== i - 1) throw 'mismatch ' + b; r.setBody(i); } }"
        ),
        Some(json!(999))
    );
    assert_eq!(
        body("function f() { var r = getContext().getResponse(); r.setValue('Body', {a: [1]}); r.setBody(r.getValue('Body')); }"),
        Some(json!({"a": [1]}))
    );
    // Untouched, the body is not reported, and the caller answers with "".
    assert_eq!(
        body("function f() { getContext().getResponse().getBody(); }"),
        None
    );
}

#[test]
fn only_known_writable_properties_can_be_set() {
    let outcome =
        sproc_with_logging("function f() { getContext().getResponse().setValue('made-up', 1); }");
    assert!(
        matches!(&outcome, Err(ScriptError::Thrown { status: Some(400), message }) if message.contains("made-up")),
        "{outcome:?}"
    );
    let outcome = sproc_with_logging("function f() { getContext().getRequest().setValue('x-ms-documentdb-script-enable-logging', 'false'); }");
    assert!(
        matches!(
            outcome,
            Err(ScriptError::Thrown {
                status: Some(403),
                ..
            })
        ),
        "{outcome:?}"
    );
    let outcome = sproc_with_logging(
        "function f() { getContext().getResponse().setBody(getContext().getRequest().getValue('x-ms-documentdb-script-enable-logging')); }",
    );
    assert_eq!(outcome.expect("runs").response_body, Some(json!("true")));
}

#[test]
fn post_triggers_see_the_request_and_the_response() {
    let invocation = Invocation {
        operation: "Create".into(),
        request_body: Some(json!({"id": "A"})),
        response_body: Some(json!({"id": "A", "_rid": "r"})),
        ..Invocation::default()
    };
    let source = r#"function check() {
        var request = getContext().getRequest().getBody();
        var response = getContext().getResponse().getBody();
        if (request.id !== "A" || response._rid !== "r") throw "wrong bodies";
    }"#;
    let outcome = run(
        source,
        &invocation,
        &mut Recorder::default(),
        Limits::default(),
    );
    // The trigger did not set a response body, so the stored one stands.
    assert_eq!(outcome.expect("runs").response_body, None);
}

#[test]
fn queries_reach_the_collection_with_their_parameters() {
    let source = r#"function q() {
        var c = getContext().getCollection();
        c.queryDocuments(c.getSelfLink(), { query: "SELECT * FROM r WHERE r.id = @id", parameters: [{ name: "@id", value: "a" }] },
            function (err, docs, options) { getContext().getResponse().setBody(docs.length); });
    }"#;
    let (outcome, recorder) = sproc(source, vec![]);
    assert_eq!(outcome.expect("runs").response_body, Some(json!(0)));
    assert_eq!(
        recorder.calls,
        vec![CollectionRequest::Query {
            query: "SELECT * FROM r WHERE r.id = @id".into(),
            parameters: json!([{"name": "@id", "value": "a"}]),
        }]
    );
}

#[test]
fn udfs_are_called_with_json_values() {
    let udfs = Udfs::new(
        [
            ("tax", "function (price) { return price * 0.2; }"),
            ("nothing", "function () {}"),
        ],
        Limits::default(),
    )
    .expect("compiles");
    assert_eq!(
        udfs.call("tax", &[json!(50)]).expect("calls"),
        Some(json!(10))
    );
    assert_eq!(udfs.call("nothing", &[]).expect("calls"), None);
    assert!(udfs.call("missing", &[]).is_err());
    assert!(udfs.contains("tax"));
}
