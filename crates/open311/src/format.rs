//! The two formats of GeoReport v2: the path's extension (`.json` or `.xml`) picks one,
//! and a document is written once as JSON and turned into the XML the specification
//! shows (`<services><service>…</service></services>`, `<service_requests><request>…`,
//! `<errors><error>…`): an array becomes its root element with one child per item,
//! an object's fields become elements in order, a nested array (`attributes`, `values`)
//! one element per item under its singular name, null an empty element.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// `.json` or `.xml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// Splits `name.json` / `name.xml` into the name and its format.
    pub fn split(file: &str) -> Option<(&str, Format)> {
        if let Some(name) = file.strip_suffix(".json") {
            Some((name, Format::Json))
        } else {
            file.strip_suffix(".xml").map(|name| (name, Format::Xml))
        }
    }

    /// The format of a path's last segment, JSON when it has neither extension (errors
    /// about such a path still need a body).
    pub fn of_path(path: &str) -> Format {
        if path.ends_with(".xml") {
            Format::Xml
        } else {
            Format::Json
        }
    }

    /// `document` (an array) as a response with `status`; `root` and `item` name the
    /// XML elements.
    pub fn respond(self, status: StatusCode, root: &str, item: &str, document: &Value) -> Response {
        let (body, content_type) = match self {
            Format::Json => (
                serde_json::to_string(document).unwrap_or_else(|_| "[]".into()),
                "application/json; charset=utf-8",
            ),
            Format::Xml => (xml(root, item, document), "text/xml; charset=utf-8"),
        };
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    }
}

/// The XML document of `value` under `root`, array items named `item`.
pub fn xml(root: &str, item: &str, value: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    match value {
        Value::Array(items) => {
            out.push_str(&format!("<{root}>"));
            for v in items {
                element(&mut out, item, v);
            }
            out.push_str(&format!("</{root}>"));
        }
        other => element(&mut out, root, other),
    }
    out
}

/// The singular element name of a nested array's items.
fn singular(name: &str) -> &str {
    match name {
        "attributes" => "attribute",
        "values" => "value",
        other => other.strip_suffix('s').unwrap_or(other),
    }
}

fn element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Null => out.push_str(&format!("<{name}/>")),
        Value::Object(fields) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in fields {
                element(out, k, v);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Array(items) => {
            out.push_str(&format!("<{name}>"));
            for v in items {
                element(out, singular(name), v);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", escape(s))),
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

/// Text escaped for an XML element.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_extension_picks_the_format() {
        assert_eq!(
            Format::split("services.json"),
            Some(("services", Format::Json))
        );
        assert_eq!(Format::split("c-1.xml"), Some(("c-1", Format::Xml)));
        assert_eq!(Format::split("c-1.html"), None);
    }

    #[test]
    fn a_list_becomes_root_and_items_with_nested_arrays_and_escaped_text() {
        // Keys in alphabetical order: the order serde_json keeps with or without
        // `preserve_order`.
        let doc =
            json!([{ "attributes": [{ "values": [{ "key": 1 }] }], "code": "a<b", "none": null }]);
        assert_eq!(
            xml("service_definitions", "service_definition", &doc),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><service_definitions><service_definition>\
             <attributes><attribute><values><value><key>1</key></value></values></attribute>\
             </attributes><code>a&lt;b</code><none/></service_definition></service_definitions>"
        );
    }
}
