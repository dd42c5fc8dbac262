//! The link to Wuhu's registration form with the buyer's votekey filled in.
//!
//! Wuhu's party site is `index.php?page=<Page>`. The registration form is on
//! the page the organizer lists in the site's menu, `Login` by default, and
//! Wuhu's `include_register.php` pre-fills the votekey field from
//! `$_GET["votekey"]` (older Wuhus ignore it; the link still leads to the form).

use std::fmt::Write as _;

/// The page Wuhu's default menu shows the registration form on.
pub const DEFAULT_REGISTER_PAGE: &str = "Login";

/// `wuhu_url` with `page=<register_page>` (unless it already names a page)
/// and `votekey=<votekey>` added to its query, before any fragment. Both
/// values are percent-encoded.
///
/// - `http://wuhu.lan/` or `http://wuhu.lan` → `http://wuhu.lan/index.php?page=Login&votekey=KEY`
/// - `http://wuhu.lan/party/index.php` → `…/party/index.php?page=Login&votekey=KEY`
/// - `http://wuhu.lan/index.php?page=Register` → `…?page=Register&votekey=KEY`
/// - `http://wuhu.lan/#top` → `http://wuhu.lan/index.php?page=Login&votekey=KEY#top`
///
/// A blank `register_page` means [`DEFAULT_REGISTER_PAGE`].
pub fn register_url(wuhu_url: &str, register_page: &str, votekey: &str) -> String {
    let wuhu_url = wuhu_url.trim();
    let (before_fragment, fragment) = match wuhu_url.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (wuhu_url, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((path, query)) => (path, query.trim_matches('&')),
        None => (before_fragment, ""),
    };
    let names_a_page =
        query.split('&').any(|pair| pair.split_once('=').is_some_and(|(k, v)| k == "page" && !v.is_empty()));

    let mut url = path.to_owned();
    if !names_a_page {
        url.push_str(script_suffix(path));
    }
    url.push('?');
    if !query.is_empty() {
        url.push_str(query);
        url.push('&');
    }
    if !names_a_page {
        let page = Some(register_page.trim()).filter(|p| !p.is_empty()).unwrap_or(DEFAULT_REGISTER_PAGE);
        url.push_str("page=");
        url.push_str(&percent_encode(page));
        url.push('&');
    }
    url.push_str("votekey=");
    url.push_str(&percent_encode(votekey));
    if let Some(fragment) = fragment {
        url.push('#');
        url.push_str(fragment);
    }
    url
}

/// What `path` needs to name Wuhu's `index.php`: nothing if it already names
/// a PHP script, `index.php` after a directory's slash, `/index.php` after a
/// bare host or a directory written without its slash.
fn script_suffix(path: &str) -> &'static str {
    let after_scheme = path.split_once("://").map_or(path, |(_, rest)| rest);
    let Some((_, url_path)) = after_scheme.split_once('/') else {
        return "/index.php";
    };
    let last_segment = url_path.rsplit('/').next().unwrap_or_default();
    if url_path.is_empty() || url_path.ends_with('/') {
        "index.php"
    } else if last_segment.to_ascii_lowercase().ends_with(".php") {
        ""
    } else {
        "/index.php"
    }
}

/// Everything but RFC 3986's unreserved characters as `%XX` (UTF-8 bytes),
/// so a key or page name can never end the parameter or the query early.
fn percent_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            // `write!` into a String cannot fail.
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}
