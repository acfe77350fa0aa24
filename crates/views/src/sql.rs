//! Encodings shared by the view tables and the cursors: timestamps and dates as text
//! that sorts like the value, and opaque page cursors.
//!
//! Timestamps are RFC 3339 in UTC with a fixed nine-digit fraction, dates `YYYY-MM-DD`,
//! so `ORDER BY` and `<` on the TEXT columns agree with time order on both backends.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::ViewError;

/// A timestamp as sortable text, e.g. `2026-03-02T01:00:00.000000000Z`.
pub(crate) fn ts_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// A date as sortable text, `YYYY-MM-DD`.
pub(crate) fn date_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// Parses a `YYYY-MM-DD` column.
pub(crate) fn parse_date(text: &str) -> Result<NaiveDate, ViewError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| {
        ViewError::Store(probity_store::StoreError::Other(format!(
            "bad date {text:?} in a view table: {e}"
        )))
    })
}

/// An opaque cursor: URL-safe base64 of the JSON array of the last row's sort key.
pub(crate) fn encode_cursor(key: &[&str]) -> String {
    let json = serde_json::to_vec(key).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// The sort key of `cursor`, which must have exactly `parts` strings.
pub(crate) fn decode_cursor(cursor: &str, parts: usize) -> Result<Vec<String>, ViewError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| ViewError::InvalidCursor)?;
    let key: Vec<String> = serde_json::from_slice(&bytes).map_err(|_| ViewError::InvalidCursor)?;
    if key.len() != parts {
        return Err(ViewError::InvalidCursor);
    }
    Ok(key)
}

/// Collects bind values and hands out their `$n` placeholders, for SQL assembled from
/// optional filters.
#[derive(Default)]
pub(crate) struct Binds {
    pub values: Vec<String>,
}

impl Binds {
    pub fn push(&mut self, value: impl Into<String>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_have_a_fixed_width_so_text_order_is_time_order() {
        let whole = Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap();
        let later = whole + chrono::Duration::nanoseconds(1_500);
        assert_eq!(ts_text(whole), "2026-03-02T01:00:00.000000000Z");
        assert_eq!(ts_text(later), "2026-03-02T01:00:00.000001500Z");
        assert!(ts_text(whole) < ts_text(later));
        assert_eq!(ts_text(whole).len(), ts_text(later).len());
    }

    #[test]
    fn a_cursor_round_trips_and_a_forged_one_is_refused() {
        let c = encode_cursor(&["2026-03-02T01:00:00.000000000Z", "c-1"]);
        assert_eq!(
            decode_cursor(&c, 2).unwrap(),
            vec!["2026-03-02T01:00:00.000000000Z", "c-1"]
        );
        assert!(matches!(
            decode_cursor(&c, 3),
            Err(ViewError::InvalidCursor)
        ));
        assert!(matches!(
            decode_cursor("!!!", 2),
            Err(ViewError::InvalidCursor)
        ));
        let not_json = URL_SAFE_NO_PAD.encode("hello");
        assert!(matches!(
            decode_cursor(&not_json, 2),
            Err(ViewError::InvalidCursor)
        ));
    }

    #[test]
    fn dates_are_iso() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        assert_eq!(date_text(d), "2026-03-02");
        assert_eq!(parse_date("2026-03-02").unwrap(), d);
        assert!(parse_date("2026-3-2x").is_err());
    }
}
