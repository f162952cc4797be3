//! The query metrics and index metrics headers a query response carries
//! when the client asks for them.

use cosmonaut_engine::{IndexUse, QueryMetrics};
use serde_json::json;

/// The figures of one page, as `x-ms-documentdb-query-metrics` reports them.
pub(super) struct PageFigures<'a> {
    pub metrics: &'a QueryMetrics,
    pub elapsed_ms: f64,
    pub retrieved_count: usize,
    pub output_count: usize,
    pub output_bytes: usize,
}

/// `x-ms-documentdb-query-metrics`: semicolon-separated `name=value` pairs.
pub(super) fn query_metrics(page: &PageFigures<'_>) -> String {
    let m = page.metrics;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let index_ms = ms(m.index_lookup_time);
    let load_ms = ms(m.document_load_time);
    let total = page.elapsed_ms;
    let utilization = if m.utilized.is_empty() { 0.0 } else { 1.0 };
    format!(
        "totalExecutionTimeInMs={total:.2};queryCompileTimeInMs=0.00;\
         queryLogicalPlanBuildTimeInMs=0.00;queryPhysicalPlanBuildTimeInMs=0.00;\
         queryOptimizationTimeInMs=0.00;VMExecutionTimeInMs={total:.2};\
         indexLookupTimeInMs={index_ms:.2};documentLoadTimeInMs={load_ms:.2};\
         systemFunctionExecuteTimeInMs=0.00;userFunctionExecuteTimeInMs=0.00;\
         retrievedDocumentCount={};retrievedDocumentSize={};outputDocumentCount={};\
         outputDocumentSize={};writeOutputTimeInMs=0.00;indexUtilizationRatio={utilization:.2}",
        page.retrieved_count, m.bytes_read, page.output_count, page.output_bytes
    )
}

/// The indexes a query used and those that would have served it better.
pub(super) struct IndexReport<'a> {
    pub utilized: &'a [IndexUse],
    pub potential: &'a [IndexUse],
}

/// `x-ms-cosmos-index-utilization` as asked for by
/// `x-ms-cosmos-populateindexmetrics`: base64 of the utilized and potential
/// single and composite indexes.
pub(super) fn index_metrics_v1(report: &IndexReport<'_>) -> String {
    use base64::Engine as _;
    let singles = |specs: Vec<&String>| {
        specs
            .iter()
            .map(|spec| {
                json!({
                    "FilterExpression": "",
                    "IndexSpec": spec,
                    "FilterPreciseSet": true,
                    "IndexPreciseSet": true,
                    "IndexImpactScore": "High"
                })
            })
            .collect::<Vec<_>>()
    };
    let composites = |specs: Vec<&Vec<String>>| {
        specs
            .iter()
            .map(|specs| {
                json!({
                    "IndexSpecs": specs,
                    "IndexPreciseSet": true,
                    "IndexImpactScore": "High"
                })
            })
            .collect::<Vec<_>>()
    };
    let (used_single, used_composite) = split(report.utilized);
    let (potential_single, potential_composite) = split(report.potential);
    let text = json!({
        "UtilizedSingleIndexes": singles(used_single),
        "PotentialSingleIndexes": singles(potential_single),
        "UtilizedCompositeIndexes": composites(used_composite),
        "PotentialCompositeIndexes": composites(potential_composite)
    });
    base64::engine::general_purpose::STANDARD.encode(text.to_string())
}

/// `x-ms-cosmos-index-utilization` as asked for by
/// `x-ms-cosmos-populateindexmetrics-V2` (what current .NET and JavaScript
/// SDKs send): URL-encoded JSON grouped as `Utilized` and `Potential`.
/// Utilized indexes name their spec; potential ones also their impact.
pub(super) fn index_metrics_v2(report: &IndexReport<'_>) -> String {
    let group = |indexes: &[IndexUse], with_impact: bool| {
        let (single, composite) = split(indexes);
        let impact = |mut entry: serde_json::Value| {
            if with_impact {
                entry["IndexImpactScore"] = json!("High");
            }
            entry
        };
        json!({
            "SingleIndexes": single.iter().map(|spec| impact(json!({"IndexSpec": spec}))).collect::<Vec<_>>(),
            "CompositeIndexes": composite.iter().map(|specs| impact(json!({"IndexSpecs": specs}))).collect::<Vec<_>>(),
        })
    };
    let text = json!({
        "Utilized": group(report.utilized, false),
        "Potential": group(report.potential, true),
    });
    percent_encoding::utf8_percent_encode(&text.to_string(), percent_encoding::NON_ALPHANUMERIC)
        .to_string()
}

fn split(utilized: &[IndexUse]) -> (Vec<&String>, Vec<&Vec<String>>) {
    let mut single = Vec::new();
    let mut composite = Vec::new();
    for index in utilized {
        match index {
            IndexUse::Single(spec) => single.push(spec),
            IndexUse::Composite(specs) => composite.push(specs),
        }
    }
    (single, composite)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn used(utilized: &[IndexUse]) -> IndexReport<'_> {
        IndexReport {
            utilized,
            potential: &[],
        }
    }

    #[test]
    fn v1_is_base64_json_naming_single_and_composite_indexes() {
        use base64::Engine as _;
        let indexes = [
            IndexUse::Single("/pk/?".into()),
            IndexUse::Composite(vec!["/a ASC".into(), "/b DESC".into()]),
        ];
        let m = used(&indexes);
        let text = base64::engine::general_purpose::STANDARD
            .decode(index_metrics_v1(&m))
            .expect("base64");
        let report: Value = serde_json::from_slice(&text).expect("json");
        assert_eq!(report["UtilizedSingleIndexes"][0]["IndexSpec"], "/pk/?");
        assert_eq!(
            report["UtilizedCompositeIndexes"][0]["IndexSpecs"],
            json!(["/a ASC", "/b DESC"])
        );
    }

    #[test]
    fn v2_is_url_encoded_json() {
        let potential = [IndexUse::Composite(vec!["/a ASC".into(), "/b ASC".into()])];
        let m = IndexReport {
            utilized: &[IndexUse::Single("/pk/?".into())],
            potential: &potential,
        };
        let text = percent_encoding::percent_decode_str(&index_metrics_v2(&m))
            .decode_utf8()
            .expect("utf8")
            .to_string();
        let report: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(report["Utilized"]["SingleIndexes"][0]["IndexSpec"], "/pk/?");
        assert_eq!(
            report["Potential"]["CompositeIndexes"],
            json!([{"IndexSpecs": ["/a ASC", "/b ASC"], "IndexImpactScore": "High"}])
        );
        assert_eq!(report["Potential"]["SingleIndexes"], json!([]));
    }

    #[test]
    fn query_metrics_report_bytes_read_not_written() {
        let m = QueryMetrics {
            bytes_read: 0,
            utilized: vec![IndexUse::Single("/pk/?".into())],
            ..QueryMetrics::default()
        };
        let text = query_metrics(&PageFigures {
            metrics: &m,
            elapsed_ms: 1.0,
            retrieved_count: 0,
            output_count: 1,
            output_bytes: 2,
        });
        assert!(text.contains("retrievedDocumentSize=0;"), "{text}");
        assert!(text.contains("outputDocumentSize=2;"), "{text}");
        assert!(text.ends_with("indexUtilizationRatio=1.00"), "{text}");
    }
}
