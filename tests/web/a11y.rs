//! The accessibility checks every page must pass, read from its HTML (shared by
//! `tests/web` and `tests/browser`, which adds what only a browser can measure: contrast
//! of the computed colours and the keyboard's Tab order).
//!
//! - the document has a language (`<html lang>`) and a title;
//! - one `h1`, the first heading, and no heading level skipped going down;
//! - every field (`input` other than hidden and buttons, `select`, `textarea`) has a
//!   label: a `<label for>` naming its id, a `<label>` around it, or `aria-label`;
//! - ids are unique and every `aria-describedby` / `aria-labelledby` names one;
//! - keyboard: no positive `tabindex`, no inline handlers (`onclick` …) that a key
//!   cannot reach, every link has an `href`, every button says what it does;
//! - every `img` has `alt`; every `svg` has `role="img"`, a `title` and a `desc`.

use std::collections::{HashMap, HashSet};

/// One start or end tag.
#[derive(Debug)]
struct Tag {
    name: String,
    closing: bool,
    attrs: HashMap<String, String>,
    /// Byte offset just after the tag.
    end: usize,
}

/// The tags of a page, in order (comments and the doctype skipped).
fn tags(html: &str) -> Vec<Tag> {
    let b = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = html[i..].find('<') {
        let start = i + off + 1;
        if html[start..].starts_with("!--") {
            i = html[start..].find("-->").map_or(b.len(), |e| start + e + 3);
            continue;
        }
        if html[start..].starts_with('!') {
            i = html[start..].find('>').map_or(b.len(), |e| start + e + 1);
            continue;
        }
        let mut j = start;
        let closing = b.get(j) == Some(&b'/');
        if closing {
            j += 1;
        }
        let name_start = j;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-') {
            j += 1;
        }
        let name = html[name_start..j].to_ascii_lowercase();
        let mut attrs = HashMap::new();
        loop {
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if j >= b.len() || b[j] == b'>' {
                break;
            }
            if b[j] == b'/' {
                j += 1;
                continue;
            }
            let a = j;
            while j < b.len() && !b[j].is_ascii_whitespace() && !matches!(b[j], b'=' | b'>' | b'/')
            {
                j += 1;
            }
            let attr = html[a..j].to_ascii_lowercase();
            let mut value = String::new();
            if b.get(j) == Some(&b'=') {
                j += 1;
                if let Some(q @ (b'"' | b'\'')) = b.get(j).copied() {
                    let v = j + 1;
                    let e = html[v..].find(q as char).map_or(b.len(), |e| v + e);
                    value = html[v..e].to_string();
                    j = e + 1;
                } else {
                    let v = j;
                    while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'>' {
                        j += 1;
                    }
                    value = html[v..j].to_string();
                }
            }
            attrs.insert(attr, value);
        }
        let end = (j + 1).min(b.len());
        if !name.is_empty() {
            out.push(Tag {
                name,
                closing,
                attrs,
                end,
            });
        }
        i = end;
    }
    out
}

/// The text between a tag's end and the next `</name>`, tags removed.
fn text_after(html: &str, tag: &Tag) -> String {
    let rest = &html[tag.end..];
    let inner = &rest[..rest.find(&format!("</{}", tag.name)).unwrap_or(rest.len())];
    let mut text = String::new();
    let mut in_tag = false;
    for ch in inner.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.trim().to_string()
}

/// Everything wrong with a page, in words (empty: it passes).
pub fn problems(html: &str) -> Vec<String> {
    let tags = tags(html);
    let mut out = Vec::new();
    let starts: Vec<&Tag> = tags.iter().filter(|t| !t.closing).collect();

    match starts.iter().find(|t| t.name == "html") {
        Some(t) if t.attrs.get("lang").is_some_and(|l| !l.trim().is_empty()) => {}
        _ => out.push("no <html lang>".to_string()),
    }
    match starts.iter().find(|t| t.name == "title") {
        Some(t) if !text_after(html, t).is_empty() => {}
        _ => out.push("no <title>".to_string()),
    }

    let levels: Vec<u8> = starts
        .iter()
        .filter_map(|t| match t.name.as_bytes() {
            [b'h', d @ b'1'..=b'6'] => Some(d - b'0'),
            _ => None,
        })
        .collect();
    if levels.iter().filter(|l| **l == 1).count() != 1 {
        out.push(format!(
            "{} h1 headings, not one",
            levels.iter().filter(|l| **l == 1).count()
        ));
    }
    if levels.first() != Some(&1) {
        out.push(format!(
            "the first heading is h{:?}, not h1",
            levels.first()
        ));
    }
    for w in levels.windows(2) {
        if w[1] > w[0] + 1 {
            out.push(format!(
                "heading h{} follows h{}: a level skipped",
                w[1], w[0]
            ));
        }
    }

    let mut ids = HashSet::new();
    for t in &starts {
        if let Some(id) = t.attrs.get("id") {
            if !ids.insert(id.clone()) {
                out.push(format!("id {id:?} used twice"));
            }
        }
    }
    let labelled: HashSet<&str> = starts
        .iter()
        .filter(|t| t.name == "label")
        .filter_map(|t| t.attrs.get("for").map(String::as_str))
        .collect();

    let mut open_labels = 0usize;
    for t in &tags {
        if t.name == "label" {
            if t.closing {
                open_labels = open_labels.saturating_sub(1);
            } else {
                open_labels += 1;
            }
            continue;
        }
        if t.closing {
            continue;
        }
        for (attr, v) in &t.attrs {
            if attr.starts_with("on") {
                out.push(format!("<{}> has an inline handler {attr}", t.name));
            }
            if attr == "tabindex" && v.trim().parse::<i32>().is_ok_and(|n| n > 0) {
                out.push(format!("<{}> has tabindex {v}", t.name));
            }
            if matches!(attr.as_str(), "aria-describedby" | "aria-labelledby") {
                for id in v.split_whitespace() {
                    if !ids.contains(id) {
                        out.push(format!("<{}> {attr} names a missing id {id:?}", t.name));
                    }
                }
            }
        }
        let kind = t.attrs.get("type").map(String::as_str).unwrap_or("text");
        let field = match t.name.as_str() {
            "input" => !matches!(kind, "hidden" | "submit" | "button" | "reset" | "image"),
            "select" | "textarea" => true,
            _ => false,
        };
        if field {
            let by_for = t
                .attrs
                .get("id")
                .is_some_and(|id| labelled.contains(id.as_str()));
            let by_aria =
                t.attrs.contains_key("aria-label") || t.attrs.contains_key("aria-labelledby");
            if !(by_for || by_aria || open_labels > 0) {
                out.push(format!(
                    "<{} name={:?}> has no label",
                    t.name,
                    t.attrs.get("name").cloned().unwrap_or_default()
                ));
            }
        }
        match t.name.as_str() {
            "a" if !t.attrs.contains_key("href") => {
                out.push("a link without href cannot be reached by keyboard".into())
            }
            "button" if text_after(html, t).is_empty() && !t.attrs.contains_key("aria-label") => {
                out.push("a button without text".into())
            }
            "img" if !t.attrs.contains_key("alt") => out.push("an img without alt".into()),
            "svg" => {
                let rest = &html[t.end..];
                let inner = &rest[..rest.find("</svg").unwrap_or(rest.len())];
                if t.attrs.get("role").map(String::as_str) != Some("img")
                    || !inner.contains("<title")
                    || !inner.contains("<desc")
                {
                    out.push("an svg without role=img, title and desc".into());
                }
            }
            _ => {}
        }
    }
    out
}

/// Panics with every problem of the page at `path`.
pub fn assert_accessible(path: &str, html: &str) {
    let found = problems(html);
    assert!(found.is_empty(), "{path} is not accessible: {found:#?}");
}

#[test]
fn the_checker_finds_what_a_page_gets_wrong() {
    let bad = "<!DOCTYPE html><html><head></head><body><h2>x</h2><h1>a</h1><h1>b</h1><h4>c</h4>\
        <input type=\"text\" name=\"q\"><input type=\"hidden\" name=\"csrf\" value=\"v\">\
        <p id=\"d\"></p><p id=\"d\"></p><a>no</a><button></button><div tabindex=\"3\" onclick=\"x()\">\
        <span aria-describedby=\"nope\"></span><svg><rect/></svg><img src=\"x\"></div></body></html>";
    let found = problems(bad).join("\n");
    for expected in [
        "no <html lang>",
        "no <title>",
        "2 h1 headings",
        "the first heading is h",
        "heading h4 follows h1",
        "<input name=\"q\"> has no label",
        "id \"d\" used twice",
        "a link without href",
        "a button without text",
        "tabindex 3",
        "inline handler onclick",
        "missing id \"nope\"",
        "an svg without role=img",
        "an img without alt",
    ] {
        assert!(
            found.contains(expected),
            "{expected} not found in:\n{found}"
        );
    }
    assert!(!found.contains("csrf"), "a hidden field needs no label");
    let good = "<!DOCTYPE html><html lang=\"zh-CN\"><head><title>T</title></head><body><h1>T</h1>\
        <h2>a</h2><h3>b</h3><h2>c</h2><label for=\"q\">Q</label><input type=\"text\" id=\"q\" name=\"q\">\
        <label><input type=\"checkbox\" name=\"c\"> C</label><button type=\"submit\">Go</button>\
        <svg role=\"img\" aria-labelledby=\"t\"><title id=\"t\">x</title><desc>y</desc></svg></body></html>";
    assert_eq!(problems(good), Vec::<String>::new());
}
