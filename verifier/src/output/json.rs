//! The stable JSON interface: the model's serde attributes define the shape, so this renderer
//! adds nothing of its own beyond pretty-printing.

use crate::model::Report;

pub(super) fn render(report: &Report) -> String {
    let mut out = match serde_json::to_string_pretty(report) {
        Ok(text) => text,
        // The model has only string keys and plain values, so serialisation cannot fail today;
        // should a future field break that, consumers still get valid JSON that says why.
        Err(err) => serde_json::json!({
            "version": report.version,
            "error": format!("could not serialise the report: {err}"),
        })
        .to_string(),
    };
    out.push('\n');
    out
}
