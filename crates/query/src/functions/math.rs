//! Mathematical functions. `Some(result)` when `name` is one of them.

use super::num;
use crate::value::{number, Val};

pub fn call(name: &str, args: &[Val]) -> Option<Val> {
    let a = args.first().and_then(num);
    let b = args.get(1).and_then(num);
    let unary = |f: fn(f64) -> f64| a.and_then(|x| number(f(x)));
    let int2 = |f: fn(i64, i64) -> Option<i64>| -> Val {
        let (x, y) = (a?, b?);
        if x.fract() != 0.0 || y.fract() != 0.0 {
            return None;
        }
        f(x as i64, y as i64).and_then(|r| number(r as f64))
    };
    Some(match name {
        "ABS" => unary(f64::abs),
        "ACOS" => unary(f64::acos),
        "ASIN" => unary(f64::asin),
        "ATAN" => unary(f64::atan),
        "ATN2" => a.zip(b).and_then(|(x, y)| number(y.atan2(x))),
        "CEILING" => unary(f64::ceil),
        "COS" => unary(f64::cos),
        "COT" => unary(|x| 1.0 / x.tan()),
        "DEGREES" => unary(f64::to_degrees),
        "EXP" => unary(f64::exp),
        "FLOOR" => unary(f64::floor),
        "LOG" => match args.len() {
            1 => unary(f64::ln),
            _ => a.zip(b).and_then(|(x, base)| number(x.log(base))),
        },
        "LOG10" => unary(f64::log10),
        "PI" => number(std::f64::consts::PI),
        "POWER" => a.zip(b).and_then(|(x, y)| number(x.powf(y))),
        "RADIANS" => unary(f64::to_radians),
        "RAND" => number(rand_unit()),
        // Half away from zero, as the service rounds.
        "ROUND" => unary(f64::round),
        "SIGN" => unary(|x| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }),
        "SIN" => unary(f64::sin),
        "SQRT" => unary(f64::sqrt),
        "SQUARE" => unary(|x| x * x),
        "TAN" => unary(f64::tan),
        "TRUNC" => unary(f64::trunc),
        "NUMBERBIN" => {
            let bin = if args.len() > 1 { b? } else { 1.0 };
            if bin == 0.0 {
                return Some(None);
            }
            a.and_then(|x| number((x / bin).floor() * bin))
        }
        "INTADD" => int2(i64::checked_add),
        "INTSUB" => int2(i64::checked_sub),
        "INTMUL" => int2(i64::checked_mul),
        "INTDIV" => int2(i64::checked_div),
        "INTMOD" => int2(i64::checked_rem),
        "INTBITAND" => int2(|x, y| Some(x & y)),
        "INTBITOR" => int2(|x, y| Some(x | y)),
        "INTBITXOR" => int2(|x, y| Some(x ^ y)),
        "INTBITLEFTSHIFT" => int2(|x, y| u32::try_from(y).ok().and_then(|s| x.checked_shl(s))),
        "INTBITRIGHTSHIFT" => int2(|x, y| u32::try_from(y).ok().and_then(|s| x.checked_shr(s))),
        "INTBITNOT" => a
            .filter(|x| x.fract() == 0.0)
            .and_then(|x| number(!(x as i64) as f64)),
        _ => return None,
    })
}

/// A uniform number in [0, 1) from the clock and a counter; RAND needs no
/// cryptographic quality.
fn rand_unit() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ nanos;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}
