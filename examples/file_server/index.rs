//! The HTML index page of a directory.

use std::fmt::Write as _;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use corio::fs;

/// The HTML index of `dir`, sorted by name; names are escaped, links percent-encoded.
pub(super) async fn index_page(dir: &Path, shown: &str) -> io::Result<String> {
    let mut entries = Vec::new();
    let mut reader = fs::read_dir(dir).await?;
    while let Some(entry) = reader.next_entry().await? {
        let is_dir = entry.file_type().await.is_ok_and(|kind| kind.is_dir());
        entries.push((entry.file_name(), is_dir));
    }
    entries.sort();
    let title = escape(shown);
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title></head>\n\
         <body><h1>Index of {title}</h1>\n<ul>\n"
    );
    if shown != "/" {
        html.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for (name, is_dir) in entries {
        let (href, text) = (
            percent_encode(name.as_bytes()),
            escape(&name.to_string_lossy()),
        );
        let slash = if is_dir { "/" } else { "" };
        let _ = writeln!(html, "<li><a href=\"{href}{slash}\">{text}{slash}</a></li>");
    }
    html.push_str("</ul></body></html>\n");
    Ok(html)
}

/// Every byte but the unreserved ones (RFC 3986, 2.3) as `%XX`.
fn percent_encode(bytes: &[u8]) -> String {
    let mut encoded = String::with_capacity(bytes.len());
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}
