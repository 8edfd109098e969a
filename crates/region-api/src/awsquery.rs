//! Replies of the Query protocols (IAM, STS and ELBv2, each in its own namespace):
//! `<ActionResponse><ActionResult>` bodies and `<ErrorResponse><Error><Type|Code|Message>`
//! errors, with the request id.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::AuthFailure;
use crate::xml::Xml;

fn xml(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

/// An error in the Query protocol's `<ErrorResponse>` form.
pub fn error(xmlns: &str, status: u16, code: &str, message: &str, request_id: &str) -> Response {
    let mut x = Xml::new();
    x.open("Error")
        .leaf("Type", if status >= 500 { "Receiver" } else { "Sender" })
        .leaf("Code", code)
        .leaf("Message", message)
        .close("Error")
        .leaf("RequestId", request_id);
    xml(
        status,
        format!(
            "<ErrorResponse xmlns=\"{xmlns}\">{}</ErrorResponse>",
            x.finish()
        ),
    )
}

/// A refused signature in the Query protocol's form (IAM and STS codes and statuses).
pub fn auth_error(xmlns: &str, e: &AuthFailure, request_id: &str) -> Response {
    error(
        xmlns,
        e.query_status(),
        e.query_code(),
        &e.message(),
        request_id,
    )
}

/// A success: `<ActionResponse>` with `<ActionResult>` holding `result` (none when `None`).
pub fn ok(xmlns: &str, action: &str, result: Option<String>, request_id: &str) -> Response {
    let inner = match result {
        Some(r) => format!("<{action}Result>{r}</{action}Result>"),
        None => String::new(),
    };
    xml(
        200,
        format!(
            "<{action}Response xmlns=\"{xmlns}\">{inner}<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
        ),
    )
}

/// Percent-encode `s` as IAM encodes policy documents in its replies (`%20` for a space;
/// botocore decodes them with `unquote`).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_percent_encoded_with_percent_20_for_spaces() {
        assert_eq!(url_encode("{\"a\": 1}"), "%7B%22a%22%3A%201%7D");
    }
}
