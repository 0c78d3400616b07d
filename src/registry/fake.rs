//! A registry on a loopback port that answers from a script, for tests of what the client sends and
//! how it reads answers no real registry here gives (the referrers API, odd headers, failures).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// A registry on a loopback port that answers from a script, one connection per answer, and records
/// each request's head (lowercased). Bound first, so a script can name the registry's own address.
pub(crate) struct FakeRegistry {
    listener: Option<TcpListener>,
    pub authority: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeRegistry {
    pub fn bind() -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let authority = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        FakeRegistry {
            listener: Some(listener),
            authority,
            requests: Arc::default(),
        }
    }

    /// Answer with `answers` in order, then stop listening.
    pub fn serve(mut self, answers: Vec<String>) -> FakeRegistry {
        let listener = self.listener.take().unwrap();
        let log = self.requests.clone();
        std::thread::spawn(move || {
            for answer in answers {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    head.push_str(&line);
                    line.clear();
                }
                log.lock().unwrap().push(head.to_lowercase());
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        self
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

pub(crate) fn answer(status: &str, headers: &[&str], body: &str) -> String {
    let mut text = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for header in headers {
        text.push_str(&format!("{header}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text
}
