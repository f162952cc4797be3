//! Criterion micro-benchmarks of request authentication: signing a
//! master-key payload (what clients do) and checking a signed request's
//! authorization header (what every request costs the server).
//! `cargo bench -p cosmonaut-gateway --bench auth`

use std::hint::black_box;
use std::time::SystemTime;

use axum::http::{HeaderMap, HeaderValue};
use cosmonaut_gateway::address::Address;
use cosmonaut_gateway::auth::{self, AccountKeys, KeyKind, MasterKey};
use criterion::{criterion_group, criterion_main, Criterion};

const KEY: &str =
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

fn authentication(c: &mut Criterion) {
    let key = MasterKey::from_base64(KEY).expect("key");
    let path = "/dbs/db/colls/c/docs/item-42";
    let address = Address::parse(path).expect("address");
    let date = httpdate::fmt_http_date(SystemTime::now());
    let payload = auth::string_to_sign(
        "GET",
        address.resource_type(),
        &address.resource_link(),
        &date,
    );

    c.bench_function("master_key_sign", |b| {
        b.iter(|| key.sign(black_box(&payload)))
    });

    let token = format!("type=master&ver=1.0&sig={}", key.sign(&payload));
    let token = percent_encoding::utf8_percent_encode(&token, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&token).expect("token"),
    );
    headers.insert("x-ms-date", HeaderValue::from_str(&date).expect("date"));
    // The primary key last of four: the check tries keys in order.
    let mut keys = AccountKeys {
        keys: Vec::new(),
        token_secret: vec![7; 32],
    };
    for kind in [
        KeyKind::Secondary,
        KeyKind::PrimaryReadOnly,
        KeyKind::SecondaryReadOnly,
    ] {
        keys.keys
            .push((kind, MasterKey::generate().expect("generated key")));
    }
    keys.keys.push((KeyKind::Primary, key));
    c.bench_function("authenticate_signed_request", |b| {
        b.iter(|| {
            auth::authenticate(
                &keys,
                None,
                "GET",
                &address,
                black_box(&headers),
                SystemTime::now(),
            )
            .expect("authenticated")
        })
    });
}

criterion_group!(benches, authentication);
criterion_main!(benches);
