//! A minimal HTTP/1.0 client over `std::net` for loopback test calls: one request per
//! connection, the whole response read, no dependencies to build.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

/// A response: status and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Raw body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Sends `method path` with an optional body and content type to `127.0.0.1:port`.
pub fn call(
    port: u16,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
) -> std::io::Result<Reply> {
    call_with(port, method, path, &[], body)
}

/// [`call`] with extra request headers (name, value).
pub fn call_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(300)))?;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some((content_type, bytes)) = body {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            bytes.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some((_, bytes)) = body {
        stream.write_all(bytes)?;
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers in the response"))?;
    let status_line = String::from_utf8_lossy(&raw[..split]);
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {status_line}")))?;
    Ok(Reply {
        status,
        body: raw[split + 4..].to_vec(),
    })
}

/// A JSON call: the value serialized as the body.
pub fn call_json(port: u16, method: &str, path: &str, value: &Value) -> Reply {
    let bytes = value.to_string().into_bytes();
    call(port, method, path, Some(("application/json", &bytes)))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// A bodiless GET.
pub fn get(port: u16, path: &str) -> Reply {
    call(port, "GET", path, None).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// A caller holding an API key: every request carries `Authorization: Bearer {token}`.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The server's port.
    pub port: u16,
    /// The API key token.
    pub token: String,
}

impl Caller {
    /// A request with the caller's credential.
    pub fn call(&self, method: &str, path: &str, body: Option<(&str, &[u8])>) -> Reply {
        let header = format!("Bearer {}", self.token);
        call_with(self.port, method, path, &[("Authorization", &header)], body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// A JSON request with the caller's credential.
    pub fn json(&self, method: &str, path: &str, value: &Value) -> Reply {
        let bytes = value.to_string().into_bytes();
        self.call(method, path, Some(("application/json", &bytes)))
    }

    /// A GET with the caller's credential.
    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None)
    }
}

/// Issues a key of `tenant` with `scopes` through the `keys` function's direct invocation (the
/// Lambda invoke API `cargo lambda watch` serves), as an operator bootstraps a tenant.
pub fn issue_key(port: u16, tenant: &str, scopes: &[&str]) -> Caller {
    let reply = call_json(
        port,
        "POST",
        "/2015-03-31/functions/keys/invocations",
        &serde_json::json!({"action": "issue_key", "tenant": tenant, "name": "e2e", "scopes": scopes}),
    );
    let answer = reply.json();
    let token = answer["key"]
        .as_str()
        .unwrap_or_else(|| panic!("issue_key answered {}: {answer}", reply.status))
        .to_owned();
    Caller { port, token }
}
