//! Optional authentication of the HTTP endpoints (`http_auth = true`).
//!
//! Accepts `Authorization: Basic` with a user of the `[[users]]` list (the
//! same users as the PostgreSQL side) or `Authorization: Bearer` with one of
//! `http_bearer_tokens`. `/health` stays open for load balancers; every
//! other endpoint (SQL, metrics, remote write and read) answers 401 without
//! valid credentials. Secrets are compared in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::Config;

pub struct HttpAuth {
    users: Vec<(String, String)>,
    tokens: Vec<String>,
}

impl HttpAuth {
    /// `None` when HTTP auth is off; an error when it is on without any
    /// user or token to accept.
    pub fn from_config(c: &Config) -> Result<Option<Arc<HttpAuth>>, String> {
        if !c.http_auth {
            return Ok(None);
        }
        if c.users.is_empty() && c.http_bearer_tokens.is_empty() {
            return Err("http_auth needs [[users]] or http_bearer_tokens".into());
        }
        Ok(Some(Arc::new(HttpAuth {
            users: c
                .users
                .iter()
                .map(|u| (u.name.clone(), u.password.clone()))
                .collect(),
            tokens: c.http_bearer_tokens.clone(),
        })))
    }

    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value, ""));
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            // Every token is compared so the time does not depend on which matched.
            return self.tokens.iter().fold(false, |ok, t| {
                ok | same(t.as_bytes(), credentials.as_bytes())
            });
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let Some(decoded) = base64_decode(credentials) else {
                return false;
            };
            let Some(colon) = decoded.iter().position(|b| *b == b':') else {
                return false;
            };
            let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
            return self.users.iter().fold(false, |ok, (u, p)| {
                ok | (same(u.as_bytes(), user) & same(p.as_bytes(), password))
            });
        }
        false
    }
}

/// Constant-time equality (for equal lengths).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 with padding, as HTTP Basic uses it.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.as_bytes();
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for (i, quad) in s.chunks_exact(4).enumerate() {
        let last = i + 1 == s.len() / 4;
        let pad = quad.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = n << 6 | value(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Some(out)
}

/// axum middleware: 401 unless the request carries accepted credentials.
pub async fn require(State(auth): State<Arc<HttpAuth>>, req: Request, next: Next) -> Response {
    if auth.allows(req.headers()) {
        return next.run(req).await;
    }
    let mut r = (
        StatusCode::UNAUTHORIZED,
        "authentication required: HTTP Basic with a configured user, or a Bearer token\n",
    )
        .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"lynxstore\""),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (enc, dec) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ] {
            assert_eq!(base64_decode(enc).unwrap(), dec.as_bytes(), "{enc}");
        }
        for bad in ["Zg=", "Z===", "Zg==Zg==", "Zm9*"] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn basic_and_bearer_are_checked() {
        let auth = HttpAuth {
            users: vec![("alice".into(), "s3cret".into())],
            tokens: vec!["tok-1".into()],
        };
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            auth.allows(&h)
        };
        assert!(with("Basic YWxpY2U6czNjcmV0")); // alice:s3cret
        assert!(!with("Basic YWxpY2U6d3Jvbmc=")); // alice:wrong
        assert!(with("Bearer tok-1"));
        assert!(with("bearer tok-1"));
        assert!(!with("Bearer tok-2"));
        assert!(!with("Bearer "));
        assert!(!with("Digest x"));
        assert!(!auth.allows(&HeaderMap::new()));
    }
}
