//! `GetCurrentDateTimeStatic()` and its kin return one value for every item
//! a query reads. Freezing replaces those calls by literals read from one
//! clock reading before the query runs.

use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::ast::*;
use crate::functions::static_time_values;
use crate::rewrite;

impl Query {
    /// Replaces every static clock call, subqueries included, by its value at `now`.
    pub fn freeze_static_time(&mut self, now: SystemTime) {
        let values = static_time_values(DateTime::<Utc>::from(now));
        let mut freeze = |e: &mut Expr| {
            if let Expr::Call {
                name,
                args,
                udf: false,
            } = e
            {
                let found = values.iter().find(|(n, _)| name.eq_ignore_ascii_case(n));
                if let (true, Some((_, Some(value)))) = (args.is_empty(), found) {
                    *e = Expr::Literal(value.clone());
                }
            }
        };
        rewrite::visit_query(self, &mut freeze);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::json;

    use crate::{parse, Parameters};

    #[test]
    fn static_clock_functions_are_read_once() {
        let mut q = parse(
            "SELECT VALUE [GetCurrentTimestampStatic(), \
             (SELECT VALUE GetCurrentDateTimeStatic() FROM x IN [1]), GetCurrentTicksStatic()]",
        )
        .expect("parse");
        q.freeze_static_time(UNIX_EPOCH + Duration::from_millis(1500));
        let rows = q.run(Vec::new(), &Parameters::new()).expect("run");
        assert_eq!(
            rows,
            vec![json!([
                1500,
                "1970-01-01T00:00:01.5000000Z",
                621_355_968_015_000_000i64
            ])]
        );
    }
}
