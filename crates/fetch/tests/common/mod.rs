//! A small HTTP/1.1 server on 127.0.0.1 for download tests: serves fixed files, honours `Range`, and can cut a
//! transfer off half-way the first time a path is fetched. It handles a bounded number of requests and stops.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Route {
    pub body: Vec<u8>,
    /// Send the full Content-Length but only this many bytes, then close (first request only).
    pub cut_first_at: Option<usize>,
}

/// Every request seen: (path, Range header if any).
pub type RequestLog = Arc<Mutex<Vec<(String, Option<String>)>>>;

pub struct Server {
    pub base: String,
    pub log: RequestLog,
}

pub fn serve(routes: HashMap<String, Route>, max_requests: usize) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        let mut cut_done: HashMap<String, bool> = HashMap::new();
        for stream in listener.incoming().take(max_requests) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let mut range = None;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("range") {
                        range = Some(v.trim().to_string());
                    }
                }
            }
            log2.lock().unwrap().push((path.clone(), range.clone()));
            let Some(route) = routes.get(&path) else {
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                continue;
            };
            let start = range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok())
                .unwrap_or(0)
                .min(route.body.len());
            let body = &route.body[start..];
            let status = if start > 0 { "206 Partial Content" } else { "200 OK" };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let cut = route
                .cut_first_at
                .filter(|_| !cut_done.get(&path).copied().unwrap_or(false));
            match cut {
                Some(n) => {
                    cut_done.insert(path.clone(), true);
                    let _ = stream.write_all(&body[..n.min(body.len())]);
                }
                None => {
                    let _ = stream.write_all(body);
                }
            }
            let _ = stream.flush();
        }
    });
    Server { base, log }
}
