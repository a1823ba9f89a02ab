//! The request line and headers of one HTTP/1.1 request, as the fake servers of the tests
//! (forge REST API, LFS batch API) read them off a real socket.

use std::io::BufRead;

pub struct RequestHead {
    pub method: String,
    /// Path and query, e.g. `/user/repos?per_page=100`.
    pub target: String,
    pub headers: Vec<(String, String)>,
}

/// Reads up to the blank line; `None` when the client closed without sending anything.
pub fn read_head(reader: &mut impl BufRead) -> Option<RequestHead> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let mut parts = request_line.split_whitespace();
    Some(RequestHead {
        method: parts.next().unwrap_or_default().to_string(),
        target: parts.next().unwrap_or_default().to_string(),
        headers,
    })
}
