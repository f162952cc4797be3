//! Spatial basics over GeoJSON points and polygons, on a spherical Earth.

use serde_json::Value;

use crate::value::{number, Val};

/// Mean Earth radius in metres.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

fn point(v: &Value) -> Option<(f64, f64)> {
    if v.get("type")?.as_str()? != "Point" {
        return None;
    }
    let c = v.get("coordinates")?.as_array()?;
    Some((c.first()?.as_f64()?, c.get(1)?.as_f64()?))
}

/// The outer ring of a polygon, as (longitude, latitude) pairs.
fn polygon(v: &Value) -> Option<Vec<(f64, f64)>> {
    if v.get("type")?.as_str()? != "Polygon" {
        return None;
    }
    let ring = v.get("coordinates")?.as_array()?.first()?.as_array()?;
    let points = ring
        .iter()
        .map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
        .collect::<Option<Vec<_>>>()?;
    (points.len() >= 4).then_some(points)
}

fn distance((lon1, lat1): (f64, f64), (lon2, lat2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// Ray casting in longitude/latitude; fine for the small polygons apps use.
fn inside((x, y): (f64, f64), ring: &[(f64, f64)]) -> bool {
    let mut inside = false;
    for pair in ring.windows(2) {
        let ((x1, y1), (x2, y2)) = (pair[0], pair[1]);
        if (y1 > y) != (y2 > y) && x < (x2 - x1) * (y - y1) / (y2 - y1) + x1 {
            inside = !inside;
        }
    }
    inside
}

pub fn call(name: &str, args: &[Val]) -> Option<Val> {
    let a = args.first().cloned().flatten();
    let b = args.get(1).cloned().flatten();
    Some(match name {
        "ST_DISTANCE" => (|| number(distance(point(a.as_ref()?)?, point(b.as_ref()?)?)))(),
        "ST_WITHIN" | "ST_INTERSECTS" => (|| {
            let (a, b) = (a.as_ref()?, b.as_ref()?);
            let hit = match (point(a), polygon(b), polygon(a), point(b)) {
                (Some(p), Some(ring), _, _) | (_, _, Some(ring), Some(p)) => inside(p, &ring),
                (Some(p), _, _, Some(q)) => p == q,
                _ => return None,
            };
            Some(Value::Bool(hit))
        })(),
        "ST_ISVALID" => Some(Value::Bool(a.as_ref().is_some_and(|v| {
            point(v).is_some_and(|(lon, lat)| lon.abs() <= 180.0 && lat.abs() <= 90.0)
                || polygon(v).is_some_and(|r| r.first() == r.last())
        }))),
        _ => return None,
    })
}
