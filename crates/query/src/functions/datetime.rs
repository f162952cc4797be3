//! Date and time functions over the service's ISO 8601 UTC strings
//! (`YYYY-MM-DDThh:mm:ss.fffffffZ`), Unix-millisecond timestamps and .NET
//! ticks (100 ns since 0001-01-01).

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, TimeZone, Timelike, Utc};
use serde_json::Value;

use super::{num, text};
use crate::value::{number, Val};

/// Ticks between 0001-01-01 and the Unix epoch.
const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

fn parse(v: &Val) -> Option<DateTime<Utc>> {
    let s = text(v)?;
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()?
                .and_hms_opt(0, 0, 0)
                .map(|d| d.and_utc())
        })
}

fn format(d: DateTime<Utc>) -> Val {
    // Seven fractional digits, as the service writes them.
    let base = d.to_rfc3339_opts(SecondsFormat::Secs, true);
    let frac = d.timestamp_subsec_nanos() / 100;
    Some(Value::String(format!(
        "{}.{frac:07}Z",
        base.trim_end_matches('Z')
    )))
}

fn ticks(d: DateTime<Utc>) -> Option<i64> {
    let micros = d.timestamp_micros();
    micros
        .checked_mul(10)?
        .checked_add(UNIX_EPOCH_TICKS)?
        .checked_add(i64::from(d.timestamp_subsec_nanos() % 1000 / 100))
}

fn from_ticks(t: i64) -> Option<DateTime<Utc>> {
    let since_epoch = t.checked_sub(UNIX_EPOCH_TICKS)?;
    Utc.timestamp_opt(
        since_epoch.div_euclid(10_000_000),
        (since_epoch.rem_euclid(10_000_000) * 100) as u32,
    )
    .single()
}

/// The canonical name of a date part, from any of its spellings.
fn part(v: &Val) -> Option<&'static str> {
    Some(match text(v)?.to_ascii_lowercase().as_str() {
        "year" | "yyyy" | "yy" => "year",
        "month" | "mm" | "m" => "month",
        "day" | "dd" | "d" => "day",
        "hour" | "hh" => "hour",
        "minute" | "mi" | "n" => "minute",
        "second" | "ss" | "s" => "second",
        "millisecond" | "ms" => "millisecond",
        "microsecond" | "mcs" => "microsecond",
        "nanosecond" | "ns" => "nanosecond",
        _ => return None,
    })
}

fn add(d: DateTime<Utc>, part: &str, n: i64) -> Option<DateTime<Utc>> {
    let months = |m: i64| {
        let total = i64::from(d.year()) * 12 + i64::from(d.month0()) + m;
        let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
        let mut day = d.day();
        loop {
            if let Some(date) =
                NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month0 as u32 + 1, day)
            {
                return Some(date.and_time(d.time()).and_utc());
            }
            day = day.checked_sub(1)?;
        }
    };
    match part {
        "year" => months(n.checked_mul(12)?),
        "month" => months(n),
        "day" => d.checked_add_signed(Duration::try_days(n)?),
        "hour" => d.checked_add_signed(Duration::try_hours(n)?),
        "minute" => d.checked_add_signed(Duration::try_minutes(n)?),
        "second" => d.checked_add_signed(Duration::try_seconds(n)?),
        "millisecond" => d.checked_add_signed(Duration::try_milliseconds(n)?),
        "microsecond" => d.checked_add_signed(Duration::microseconds(n)),
        _ => d.checked_add_signed(Duration::nanoseconds(n)),
    }
}

fn get(d: DateTime<Utc>, part: &str) -> i64 {
    match part {
        "year" => i64::from(d.year()),
        "month" => i64::from(d.month()),
        "day" => i64::from(d.day()),
        "hour" => i64::from(d.hour()),
        "minute" => i64::from(d.minute()),
        "second" => i64::from(d.second()),
        "millisecond" => i64::from(d.timestamp_subsec_millis()),
        "microsecond" => i64::from(d.timestamp_subsec_micros()),
        _ => i64::from(d.timestamp_subsec_nanos()),
    }
}

/// Boundaries of `part` crossed going from `a` to `b`.
fn diff(a: DateTime<Utc>, b: DateTime<Utc>, part: &str) -> Option<i64> {
    let unit: i64 = match part {
        "year" => return Some(i64::from(b.year() - a.year())),
        "month" => {
            return Some(
                i64::from(b.year() - a.year()) * 12 + i64::from(b.month()) - i64::from(a.month()),
            )
        }
        "day" => 86_400_000_000_000,
        "hour" => 3_600_000_000_000,
        "minute" => 60_000_000_000,
        "second" => 1_000_000_000,
        "millisecond" => 1_000_000,
        "microsecond" => 1_000,
        _ => 1,
    };
    let ns = |d: DateTime<Utc>| {
        i128::from(d.timestamp()) * 1_000_000_000 + i128::from(d.timestamp_subsec_nanos())
    };
    let floor = |d| ns(d).div_euclid(i128::from(unit));
    i64::try_from(floor(b) - floor(a)).ok()
}

/// The values of the `...Static` clock functions at `now`. A query reads
/// them once ([`Query::freeze_static_time`](crate::Query::freeze_static_time)),
/// so every item sees the same value.
pub fn static_time_values(now: DateTime<Utc>) -> [(&'static str, Val); 3] {
    [
        ("GETCURRENTDATETIMESTATIC", format(now)),
        (
            "GETCURRENTTIMESTAMPSTATIC",
            number(now.timestamp_millis() as f64),
        ),
        ("GETCURRENTTICKSSTATIC", ticks(now).map(Value::from)),
    ]
}

pub fn call(name: &str, args: &[Val]) -> Option<Val> {
    let whole = |i: usize| {
        args.get(i)
            .and_then(num)
            .filter(|n| n.fract() == 0.0)
            .map(|n| n as i64)
    };
    Some(match name {
        // Unfrozen (a query run without freezing its clock), the static forms read the clock.
        "GETCURRENTDATETIME" | "GETCURRENTDATETIMESTATIC" => format(Utc::now()),
        "GETCURRENTTIMESTAMP" | "GETCURRENTTIMESTAMPSTATIC" => {
            number(Utc::now().timestamp_millis() as f64)
        }
        "GETCURRENTTICKS" | "GETCURRENTTICKSSTATIC" => ticks(Utc::now()).map(Value::from),
        "DATETIMEADD" => (|| format(add(parse(args.get(2)?)?, part(args.first()?)?, whole(1)?)?))(),
        "DATETIMEPART" => (|| number(get(parse(args.get(1)?)?, part(args.first()?)?) as f64))(),
        "DATETIMEDIFF" => (|| {
            number(diff(
                parse(args.get(1)?)?,
                parse(args.get(2)?)?,
                part(args.first()?)?,
            )? as f64)
        })(),
        "DATETIMEFROMPARTS" => (|| {
            let p = |i: usize, default: i64| {
                if args.len() > i {
                    whole(i)
                } else {
                    Some(default)
                }
            };
            let date = NaiveDate::from_ymd_opt(
                i32::try_from(p(0, 1)?).ok()?,
                u32::try_from(p(1, 1)?).ok()?,
                u32::try_from(p(2, 1)?).ok()?,
            )?;
            let time = date.and_hms_opt(
                u32::try_from(p(3, 0)?).ok()?,
                u32::try_from(p(4, 0)?).ok()?,
                u32::try_from(p(5, 0)?).ok()?,
            )?;
            let fraction = p(6, 0)?;
            format(
                time.and_utc()
                    .checked_add_signed(Duration::nanoseconds(fraction.checked_mul(100)?))?,
            )
        })(),
        "DATETIMETOTIMESTAMP" => (|| number(parse(args.first()?)?.timestamp_millis() as f64))(),
        "TIMESTAMPTODATETIME" => (|| format(Utc.timestamp_millis_opt(whole(0)?).single()?))(),
        // Ticks pass 2^53, so they stay integers rather than going through f64.
        "DATETIMETOTICKS" => (|| Some(Value::from(ticks(parse(args.first()?)?)?)))(),
        "TICKSTODATETIME" => (|| format(from_ticks(whole(0)?)?))(),
        "DATETIMEBIN" => (|| {
            let d = parse(args.first()?)?;
            let part = part(args.get(1)?)?;
            let size = if args.len() > 2 { whole(2)? } else { 1 };
            if size <= 0 {
                return None;
            }
            let origin = if args.len() > 3 {
                parse(args.get(3)?)?
            } else {
                Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).single()?
            };
            let steps = diff(origin, d, part)?.div_euclid(size) * size;
            format(add(origin, part, steps)?)
        })(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: &str) -> Val {
        Some(json!(v))
    }

    #[test]
    fn round_trips_and_arithmetic() {
        assert_eq!(
            call(
                "DATETIMEADD",
                &[s("mm"), Some(json!(1)), s("2020-01-31T00:00:00.0000000Z")]
            ),
            Some(s("2020-02-29T00:00:00.0000000Z"))
        );
        assert_eq!(
            call(
                "DATETIMEPART",
                &[s("hh"), s("2020-01-02T03:04:05.0000000Z")]
            ),
            Some(Some(json!(3)))
        );
        assert_eq!(
            call(
                "DATETIMEDIFF",
                &[
                    s("day"),
                    s("2020-01-01T23:00:00Z"),
                    s("2020-01-02T01:00:00Z")
                ]
            ),
            Some(Some(json!(1)))
        );
        assert_eq!(
            call("DATETIMETOTIMESTAMP", &[s("1970-01-01T00:00:01Z")]),
            Some(Some(json!(1000)))
        );
        assert_eq!(
            call("TIMESTAMPTODATETIME", &[Some(json!(1000))]),
            Some(s("1970-01-01T00:00:01.0000000Z"))
        );
        assert_eq!(
            call("DATETIMETOTICKS", &[s("1970-01-01T00:00:00Z")]),
            Some(Some(json!(UNIX_EPOCH_TICKS)))
        );
        assert_eq!(
            call("TICKSTODATETIME", &[Some(json!(UNIX_EPOCH_TICKS))]),
            Some(s("1970-01-01T00:00:00.0000000Z"))
        );
        assert_eq!(
            call(
                "DATETIMEFROMPARTS",
                &[Some(json!(2021)), Some(json!(5)), Some(json!(6))]
            ),
            Some(s("2021-05-06T00:00:00.0000000Z"))
        );
        assert_eq!(
            call(
                "DATETIMEADD",
                &[s("century"), Some(json!(1)), s("2020-01-01T00:00:00Z")]
            ),
            Some(None)
        );
        assert_eq!(
            call("DATETIMEPART", &[s("yyyy"), s("not a date")]),
            Some(None)
        );
    }
}
