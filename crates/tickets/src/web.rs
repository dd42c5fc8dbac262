//! Small HTTP helpers shared by the handlers: reading the body, and error
//! pages a person can read (HTML for browsers, plain text otherwise).

use crate::lang::Lang;
use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};

/// Bodies larger than this are refused with 413 before any parsing.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// Does the client prefer HTML? Browsers send `Accept: text/html,…`.
pub fn wants_html(request: &Request) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// The request body's bytes (lambda_http has already decoded base64 bodies).
pub fn body_bytes(request: &Request) -> &[u8] {
    request.body().as_ref()
}

/// The value of a query parameter, from the URI (the same on API Gateway,
/// `cargo lambda` and the local server).
pub fn query_param(request: &Request, name: &str) -> Option<String> {
    let query = request.uri().query()?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// Every answer of both functions goes out through here: `nosniff`, so no
/// browser reads a plain-text error (which may echo the form) as HTML.
pub fn with_nosniff(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// An error answer: a one-line message, as a small HTML page or plain text.
pub fn error_response(status: StatusCode, message: &str, html: bool, back_link: Option<&str>) -> Response<Body> {
    let title = status.canonical_reason().unwrap_or("Error");
    page_response(status, &MessagePage { lang: Lang::En, title, paragraphs: &[message], back_link }, html)
}

/// A message page as HTML, or its paragraphs as plain text.
pub fn page_response(status: StatusCode, page: &MessagePage<'_>, html: bool) -> Response<Body> {
    if html {
        return html_response(status, page.render());
    }
    uncached(status, "text/plain; charset=utf-8", format!("{}\n", page.paragraphs.join("\n")))
}

/// An HTML page answer, never cached (every page here is about one buyer or one moment).
pub fn html_response(status: StatusCode, page: String) -> Response<Body> {
    uncached(status, "text/html; charset=utf-8", page)
}

fn uncached(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `303 See Other` to `location` (after a POST, browsers follow with a GET).
pub fn see_other(location: &str) -> Option<Response<Body>> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_str(location).ok()?);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Some(response)
}

/// The style of the short message pages (errors, the landing page).
const MESSAGE_STYLE: &str =
    "body { font-family: system-ui, sans-serif; max-width: 36em; margin: 3em auto; padding: 0 1em }";

/// The one HTML document shell of every page a person sees (the handlers'
/// pages and the local server's). `style` is CSS and `body` HTML, both
/// trusted; the title is escaped here.
pub fn html_document(title: &str, style: &str, body: &str) -> String {
    html_document_in(Lang::En, title, style, body)
}

/// [`html_document`] in `lang`.
pub fn html_document_in(lang: Lang, title: &str, style: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{style}</style></head><body>{body}</body></html>\n",
        lang.code(),
        escape_html(title)
    )
}

/// A short message page: a heading, one paragraph, and a link back to the
/// tickets when `back_link` is a web URL.
pub fn message_page(title: &str, message: &str, back_link: Option<&str>) -> String {
    MessagePage { lang: Lang::En, title, paragraphs: &[message], back_link }.render()
}

/// A short page for a visitor: a heading, paragraphs of plain text, and a
/// link back to the tickets when `back_link` is a web URL.
pub struct MessagePage<'a> {
    pub lang: Lang,
    pub title: &'a str,
    pub paragraphs: &'a [&'a str],
    pub back_link: Option<&'a str>,
}

impl MessagePage<'_> {
    pub fn render(&self) -> String {
        let back = self
            .back_link
            .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
            .map(|url| {
                let text = self.lang.pick("Back to the tickets", "チケットのページに戻る");
                format!("<p><a href=\"{}\">{text}</a></p>", escape_html(url))
            })
            .unwrap_or_default();
        let paragraphs: String = self.paragraphs.iter().map(|p| format!("<p>{}</p>", escape_html(p))).collect();
        let body = format!("<h1>{}</h1>{paragraphs}{back}", escape_html(self.title));
        html_document_in(self.lang, self.title, MESSAGE_STYLE, &body)
    }
}

/// Escapes text for use in HTML content and in double- or single-quoted attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_errors_escape_the_message_and_plain_ones_do_not_wrap_it() {
        let r = error_response(StatusCode::BAD_REQUEST, "no <b>", true, Some("https://x.example/\"a"));
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        let Body::Text(page) = r.body() else { panic!("text body") };
        assert!(page.contains("no &lt;b&gt;"));
        assert!(page.contains("href=\"https://x.example/&quot;a\""));
        let r = error_response(StatusCode::BAD_GATEWAY, "try again", false, None);
        assert_eq!(r.body(), &Body::Text("try again\n".into()));
    }

    #[test]
    fn non_web_back_links_are_dropped() {
        let r = error_response(StatusCode::BAD_REQUEST, "x", true, Some("javascript:alert(1)"));
        let Body::Text(page) = r.body() else { panic!("text body") };
        assert!(!page.contains("javascript"));
    }

    #[test]
    fn escape_html_handles_all_special_characters() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape_html("東京 plain"), "東京 plain");
    }
}
