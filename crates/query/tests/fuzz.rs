//! Property tests: no input makes the parser, validator or executor panic,
//! and every parsed query prints back to itself.

use cosmonaut_query::{parse, Parameters};
use proptest::prelude::*;
use serde_json::json;

const TOKENS: &[&str] = &[
    "SELECT",
    "VALUE",
    "DISTINCT",
    "TOP",
    "*",
    "FROM",
    "c",
    "r",
    "t",
    "IN",
    "JOIN",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "ORDER",
    "BY",
    "DESC",
    "GROUP",
    "OFFSET",
    "LIMIT",
    "BETWEEN",
    "LIKE",
    "ESCAPE",
    "EXISTS",
    "ARRAY",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ".",
    ":",
    "?",
    "??",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "||",
    "&",
    "|",
    "^",
    "~",
    "<<",
    ">>",
    ">>>",
    "1",
    "0",
    "2.5",
    "-3",
    "'s'",
    "\"d\"",
    "@p",
    "true",
    "false",
    "null",
    "undefined",
    "a",
    "b",
    "tags",
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "ABS",
    "CONTAINS",
    "ARRAY_CONTAINS",
    "IS_DEFINED",
    "SUBSTRING",
    "udf",
    "AS",
    "x",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.join(" "))
}

fn valid_prefix_soup() -> impl Strategy<Value = String> {
    token_soup().prop_map(|rest| format!("SELECT * FROM c WHERE {rest}"))
}

fn documents() -> Vec<serde_json::Value> {
    vec![
        json!({"id": "1", "a": 1, "b": "s", "tags": [1, "x", {"k": null}], "c": {"a": [1, 2]}}),
        json!({"id": "2", "a": "1", "tags": [], "x": true}),
        json!({"id": "3"}),
    ]
}

fn exercise(text: &str) {
    let Ok(query) = parse(text) else { return };
    let printed = query.to_string();
    assert_eq!(
        parse(&printed).as_ref(),
        Ok(&query),
        "{text} printed as {printed}"
    );
    let parameters: Parameters = [("@p".to_string(), json!(1))].into();
    if query.validate(&parameters).is_ok() {
        let _ = query.run(documents(), &parameters);
        let _ = cosmonaut_query::query_info(&query, &parameters);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        exercise(&text);
    }

    #[test]
    fn filters_never_panic(text in valid_prefix_soup()) {
        exercise(&text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
        exercise(&text);
    }
}

/// Expressions that parse, built from the grammar, so evaluation is reached.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("c.a".to_string()),
        Just("c.b".to_string()),
        Just("c.tags".to_string()),
        Just("c.c.a[1]".to_string()),
        Just("c['id']".to_string()),
        Just("@p".to_string()),
        Just("null".to_string()),
        Just("undefined".to_string()),
        Just("true".to_string()),
        (-5i32..100).prop_map(|n| n.to_string()),
        Just("1.5e300".to_string()),
        Just("'x%'".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
    ];
    leaf.prop_recursive(4, 48, 4, |inner| {
        let binary = prop::sample::select(vec![
            "AND", "OR", "=", "!=", "<", ">=", "+", "-", "*", "/", "%", "||", "&", "|", "^", "<<",
            ">>", ">>>", "??",
        ]);
        let function = prop::sample::select(vec![
            "ABS",
            "FLOOR",
            "POWER",
            "LOG",
            "CONTAINS",
            "SUBSTRING",
            "LEFT",
            "REPLICATE",
            "INDEX_OF",
            "ARRAY_SLICE",
            "ARRAY_CONTAINS",
            "SETUNION",
            "IS_DEFINED",
            "IIF",
            "TOSTRING",
            "LENGTH",
            "REGEXMATCH",
            "DATETIMEADD",
            "DATETIMEPART",
            "STRINGTOOBJECT",
            "ST_DISTANCE",
            "NUMBERBIN",
            "INTDIV",
            "ROUND",
            "CONCAT",
            "ARRAY_CONCAT",
        ]);
        prop_oneof![
            (inner.clone(), binary, inner.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("(NOT {a})")),
            inner.clone().prop_map(|a| format!("(- {a})")),
            (function, prop::collection::vec(inner.clone(), 1..4))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("({a} BETWEEN {b} AND {c})")),
            (inner.clone(), prop::collection::vec(inner.clone(), 0..3))
                .prop_map(|(a, l)| format!("({a} IN ({}))", l.join(", "))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} LIKE {b})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("({a} ? {b} : {c})")),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|l| format!("[{}]", l.join(", "))),
            inner.clone().prop_map(|a| format!("{{\"k\": {a}}}")),
            inner.prop_map(|a| format!("ARRAY(SELECT VALUE t FROM t IN c.tags WHERE {a})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn generated_queries_never_panic(
        projection in expression(),
        filter in expression(),
        key in expression(),
        group in any::<bool>(),
    ) {
        let text = if group {
            format!("SELECT VALUE COUNT({projection}) FROM c WHERE {filter} GROUP BY {key}")
        } else {
            format!("SELECT DISTINCT VALUE {projection} FROM c JOIN t IN c.tags WHERE {filter} ORDER BY {key} DESC")
        };
        // Every generated query parses; some fail validation (argument counts), which is fine.
        parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        exercise(&text);
    }
}
