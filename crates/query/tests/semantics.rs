//! Queries over a small fixture, with the results the service documents.

use cosmonaut_query::{parse, Parameters};
use serde_json::{json, Value};

fn families() -> Vec<Value> {
    vec![
        json!({"id": "AndersenFamily", "lastName": "Andersen", "address": {"state": "WA", "city": "Seattle"},
               "children": [{"firstName": "Henriette", "grade": 5, "pets": [{"name": "Fluffy"}]}],
               "registered": true, "age": 40, "tags": ["a", "b"]}),
        json!({"id": "WakefieldFamily", "address": {"state": "NY", "city": "NYC"},
               "children": [{"firstName": "Jesse", "grade": 1, "pets": [{"name": "Goofy"}, {"name": "Shadow"}]},
                            {"firstName": "Lisa", "grade": 8}],
               "registered": false, "age": 35.5, "tags": ["b"]}),
        json!({"id": "Solo", "lastName": null, "address": {"state": "WA"}, "age": "unknown", "tags": []}),
    ]
}

fn run_with(text: &str, parameters: &Parameters) -> Vec<Value> {
    let query = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    query
        .validate(parameters)
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    query
        .run(families(), parameters)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn run(text: &str) -> Vec<Value> {
    run_with(text, &Parameters::new())
}

fn ids(values: &[Value]) -> Vec<&str> {
    values
        .iter()
        .map(|v| v["id"].as_str().unwrap_or("?"))
        .collect()
}

#[test]
fn where_and_undefined() {
    assert_eq!(
        ids(&run("SELECT * FROM c WHERE c.address.state = 'WA'")),
        ["AndersenFamily", "Solo"]
    );
    // A missing property is undefined, not null.
    assert_eq!(
        ids(&run("SELECT * FROM c WHERE c.lastName = null")),
        ["Solo"]
    );
    assert_eq!(
        ids(&run("SELECT * FROM c WHERE NOT IS_DEFINED(c.lastName)")),
        ["WakefieldFamily"]
    );
    // Comparing a string with a number is undefined: the row is dropped either way.
    assert_eq!(
        ids(&run("SELECT * FROM c WHERE c.age > 30")),
        ["AndersenFamily", "WakefieldFamily"]
    );
    assert!(ids(&run("SELECT * FROM c WHERE NOT (c.age > 30)")).is_empty());
    assert_eq!(
        ids(&run("SELECT * FROM c WHERE c.age BETWEEN 35 AND 36")),
        ["WakefieldFamily"]
    );
    assert_eq!(
        ids(&run("SELECT * FROM c WHERE c.id IN ('Solo', 'Nobody')")),
        ["Solo"]
    );
    assert_eq!(
        ids(&run(
            "SELECT * FROM c WHERE c.id LIKE '%Family' AND c.registered"
        )),
        ["AndersenFamily"]
    );
    let params: Parameters = [("@state".to_string(), json!("NY"))].into();
    assert_eq!(
        ids(&run_with(
            "SELECT * FROM c WHERE c.address.state = @state",
            &params
        )),
        ["WakefieldFamily"]
    );
}

#[test]
fn projections() {
    assert_eq!(
        run("SELECT VALUE c.address.city FROM c"),
        [json!("Seattle"), json!("NYC")]
    );
    assert_eq!(
        run("SELECT c.id, c.address.city AS town, c.age * 2 FROM c WHERE c.id = 'Solo'"),
        [json!({"id": "Solo"})]
    );
    assert_eq!(
        run("SELECT c.id, c.age * 2 FROM c WHERE c.id = 'AndersenFamily'"),
        [json!({"id": "AndersenFamily", "$1": 80})]
    );
    assert_eq!(
        run("SELECT VALUE {\"n\": c.id, \"k\": [1, c.missing, 2]} FROM c WHERE c.id = 'Solo'"),
        [json!({"n": "Solo", "k": [1, 2]})]
    );
    assert_eq!(run("SELECT VALUE 1 + 2"), [json!(3)]);
    assert_eq!(run("SELECT VALUE 'a' || 'b'"), [json!("ab")]);
    assert_eq!(
        run("SELECT VALUE c.lastName ?? 'none' FROM c"),
        [json!("Andersen"), json!("none"), Value::Null]
    );
}

#[test]
fn iteration_and_joins() {
    assert_eq!(
        run("SELECT VALUE ch.firstName FROM ch IN c.children"),
        [json!("Henriette"), json!("Jesse"), json!("Lisa")]
    );
    assert_eq!(
        run("SELECT c.id, p.name FROM c JOIN ch IN c.children JOIN p IN ch.pets"),
        [
            json!({"id": "AndersenFamily", "name": "Fluffy"}),
            json!({"id": "WakefieldFamily", "name": "Goofy"}),
            json!({"id": "WakefieldFamily", "name": "Shadow"})
        ]
    );
    assert_eq!(
        run("SELECT VALUE t FROM c JOIN t IN c.tags WHERE t = 'b'").len(),
        2
    );
}

#[test]
fn ordering_across_types() {
    assert_eq!(
        run("SELECT VALUE c.age FROM c ORDER BY c.age"),
        [json!(35.5), json!(40), json!("unknown")]
    );
    assert_eq!(
        run("SELECT VALUE c.id FROM c ORDER BY c.address.state DESC, c.id ASC"),
        [
            json!("AndersenFamily"),
            json!("Solo"),
            json!("WakefieldFamily")
        ]
    );
    assert_eq!(
        run("SELECT VALUE c.id FROM c ORDER BY c.lastName"),
        [
            json!("WakefieldFamily"),
            json!("Solo"),
            json!("AndersenFamily")
        ]
    );
    assert_eq!(
        run("SELECT TOP 1 VALUE c.id FROM c ORDER BY c.id DESC"),
        [json!("WakefieldFamily")]
    );
    assert_eq!(
        run("SELECT VALUE c.id FROM c ORDER BY c.id OFFSET 1 LIMIT 1"),
        [json!("Solo")]
    );
}

#[test]
fn aggregates_and_grouping() {
    assert_eq!(run("SELECT VALUE COUNT(1) FROM c"), [json!(3)]);
    assert_eq!(run("SELECT VALUE COUNT(c.lastName) FROM c"), [json!(2)]);
    assert_eq!(
        run("SELECT VALUE SUM(ch.grade) FROM ch IN c.children"),
        [json!(14)]
    );
    // A string among the values makes SUM undefined, so no row is returned.
    assert!(run("SELECT VALUE SUM(c.age) FROM c").is_empty());
    assert_eq!(
        run("SELECT VALUE AVG(ch.grade) FROM ch IN c.children"),
        [json!(14.0 / 3.0)]
    );
    assert_eq!(run("SELECT VALUE MIN(c.age) FROM c"), [json!(35.5)]);
    assert_eq!(run("SELECT VALUE MAX(c.age) FROM c"), [json!("unknown")]);
    assert_eq!(run("SELECT VALUE COUNTIF(c.registered) FROM c"), [json!(1)]);
    assert_eq!(
        run("SELECT c.address.state, COUNT(1) AS n FROM c GROUP BY c.address.state"),
        [
            json!({"state": "WA", "n": 2}),
            json!({"state": "NY", "n": 1})
        ]
    );
    assert_eq!(
        run("SELECT VALUE COUNT(1) FROM c WHERE c.id = 'nobody'"),
        [json!(0)]
    );
    assert_eq!(
        run("SELECT DISTINCT VALUE c.address.state FROM c"),
        [json!("WA"), json!("NY")]
    );
    assert_eq!(run("SELECT DISTINCT c.address.state FROM c").len(), 2);
}

#[test]
fn subqueries() {
    assert_eq!(ids(&run("SELECT * FROM c WHERE EXISTS(SELECT VALUE p FROM ch IN c.children JOIN p IN ch.pets WHERE p.name = 'Shadow')")), ["WakefieldFamily"]);
    assert_eq!(
        run("SELECT VALUE ARRAY(SELECT VALUE ch.grade FROM ch IN c.children) FROM c WHERE c.id = 'WakefieldFamily'"),
        [json!([1, 8])]
    );
    assert_eq!(
        run("SELECT VALUE (SELECT VALUE COUNT(1) FROM t IN c.tags) FROM c"),
        [json!(2), json!(1), json!(0)]
    );
}

#[test]
fn functions() {
    let one = |expr: &str| run(&format!("SELECT VALUE {expr}")).into_iter().next();
    assert_eq!(one("CONTAINS('Hello', 'ell')"), Some(json!(true)));
    assert_eq!(one("STARTSWITH('Hello', 'he', true)"), Some(json!(true)));
    assert_eq!(one("ENDSWITH('Hello', 'LO')"), Some(json!(false)));
    assert_eq!(one("UPPER(SUBSTRING('abcdef', 1, 3))"), Some(json!("BCD")));
    assert_eq!(one("INDEX_OF('abcabc', 'c', 3)"), Some(json!(5)));
    assert_eq!(one("REPLACE('aXa', 'X', 'b')"), Some(json!("aba")));
    assert_eq!(
        one("REGEXMATCH('abc123', '^[a-z]+\\\\d+$')"),
        Some(json!(true))
    );
    assert_eq!(one("LENGTH('héllo')"), Some(json!(5)));
    assert_eq!(one("TOSTRING(1.5)"), Some(json!("1.5")));
    assert_eq!(one("StringToArray('[1, 2]')"), Some(json!([1, 2])));
    assert_eq!(
        one("ARRAY_CONTAINS([{'a': 1, 'b': 2}], {'a': 1}, true)"),
        Some(json!(true))
    );
    assert_eq!(
        one("ARRAY_CONTAINS([{'a': 1, 'b': 2}], {'a': 1})"),
        Some(json!(false))
    );
    assert_eq!(one("ARRAY_SLICE([1, 2, 3, 4], -2)"), Some(json!([3, 4])));
    assert_eq!(
        one("ARRAY_LENGTH(ARRAY_CONCAT([1], [2, 3]))"),
        Some(json!(3))
    );
    assert_eq!(
        one("SetIntersect([1, 2, 3], [2, 3, 4])"),
        Some(json!([2, 3]))
    );
    assert_eq!(
        one("ABS(-2) + FLOOR(2.7) + ROUND(2.5) + POWER(2, 3)"),
        Some(json!(15))
    );
    assert_eq!(
        one("IS_NUMBER(1) AND IS_STRING('a') AND NOT IS_NULL(1) AND IS_PRIMITIVE(null)"),
        Some(json!(true))
    );
    assert_eq!(one("IIF(true, 'y', 'n')"), Some(json!("y")));
    assert_eq!(one("IIF(1, 'y', 'n')"), Some(json!("n")));
    assert_eq!(one("ST_DISTANCE({'type': 'Point', 'coordinates': [0, 0]}, {'type': 'Point', 'coordinates': [0, 1]}) > 111000"), Some(json!(true)));
    assert_eq!(
        one("ST_WITHIN({'type': 'Point', 'coordinates': [1, 1]}, {'type': 'Polygon', 'coordinates': [[[0,0],[2,0],[2,2],[0,2],[0,0]]]})"),
        Some(json!(true))
    );
    assert_eq!(one("ABS('x')"), None, "wrong argument types give undefined");
}

#[test]
fn errors_before_reading_documents() {
    let p = Parameters::new();
    for bad in [
        "SELECT VALUE NOPE(1) FROM c",
        "SELECT VALUE ABS(1, 2) FROM c",
        "SELECT * FROM c WHERE x.a = 1",
        "SELECT * FROM c WHERE COUNT(1) > 0",
        "SELECT * FROM c JOIN t IN c.tags",
        "SELECT c.id, COUNT(1) FROM c",
        "SELECT * FROM c WHERE c.a = @missing",
        "SELECT *",
        "SELECT * FROM c ORDER BY LOWER(c.name)",
        "SELECT * FROM c ORDER BY c.a + 1",
    ] {
        let q = parse(bad).expect("parses");
        assert!(q.validate(&p).is_err(), "{bad}");
    }
}

#[test]
fn streaming_queries_run_per_document() {
    let q = parse("SELECT c.id, t FROM c JOIN t IN c.tags").expect("parse");
    assert!(q.is_streaming());
    let all: usize = families()
        .into_iter()
        .map(|d| q.run_document(d, &Parameters::new()).expect("run").len())
        .sum();
    assert_eq!(all, 3);
    assert!(!parse("SELECT * FROM c ORDER BY c.id")
        .expect("parse")
        .is_streaming());
    assert!(!parse("SELECT VALUE COUNT(1) FROM c")
        .expect("parse")
        .is_streaming());
}

#[test]
fn weighted_documents_answer_as_their_copies_would() {
    // Values as index entries give them: runs of equal documents.
    let runs = [
        (json!({"k": 1.5}), 3),
        (json!({"k": 2}), 1),
        (json!({"k": "x"}), 2),
        (json!({"k": 0.1}), 7),
    ];
    let copies: Vec<Value> = runs
        .iter()
        .flat_map(|(d, n)| std::iter::repeat_n(d.clone(), *n as usize))
        .collect();
    let parameters = Parameters::new();
    let ctx = cosmonaut_query::Context::new(&parameters, None);
    for text in [
        "SELECT VALUE COUNT(1) FROM c",
        "SELECT VALUE COUNT(1) FROM c WHERE c.k > 1",
        "SELECT c.k, COUNT(1) AS n FROM c GROUP BY c.k",
        "SELECT VALUE SUM(c.k) FROM c WHERE IS_NUMBER(c.k)",
        "SELECT VALUE AVG(c.k) FROM c WHERE IS_NUMBER(c.k)",
        "SELECT VALUE COUNTIF(c.k > 1) FROM c",
        "SELECT MIN(c.k) AS lo, MAX(c.k) AS hi FROM c",
        "SELECT DISTINCT VALUE c.k FROM c",
        "SELECT VALUE COUNT(1) FROM c WHERE c.k = 'nothing'",
    ] {
        let query = parse(text).expect(text);
        let weighted = query
            .run_weighted_with(runs.iter().cloned(), &ctx)
            .expect(text);
        let copied = query.run(copies.clone(), &Parameters::new()).expect(text);
        assert_eq!(weighted, copied, "{text}");
    }
}
