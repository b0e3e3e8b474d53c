//! moto, the AWS emulator, as a real server on a free loopback port: one per test (no state
//! shared between tests), stopped on drop. It comes from the venv `tests/run.sh` builds from
//! tests/requirements.txt (RAMPART_TEST_VENV, else `<workspace>/target/test-venv`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The moto server's request log lines (werkzeug writes one per request to stderr), and a
/// signal for each new line.
type Log = Arc<(Mutex<Vec<String>>, Condvar)>;

pub struct Moto {
    child: Child,
    port: u16,
    log: Log,
}

/// The venv holding moto.
pub fn venv() -> PathBuf {
    match std::env::var_os("RAMPART_TEST_VENV") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-venv"),
    }
}

fn moto_server() -> PathBuf {
    let bin = venv().join("bin/moto_server");
    assert!(
        bin.is_file(),
        "moto is not installed ({} is missing). Run `bash tests/run.sh`, which creates the test \
         venv from tests/requirements.txt, or by hand: python3 -m venv target/test-venv && \
         target/test-venv/bin/pip install -r tests/requirements.txt",
        bin.display()
    );
    bin
}

/// A port that was free a moment ago: moto_server needs an explicit one.
fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    l.local_addr().unwrap().port()
}

/// One HTTP/1.0 GET over a fresh connection: the status code, if the server answered.
fn probe(port: u16) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(500),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

impl Moto {
    /// Starts moto and returns once it answers HTTP (polled against a deadline).
    pub fn start() -> Moto {
        let bin = moto_server();
        // Another process can take the port between our probe and moto's bind: try again.
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let log: Log = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
            let stderr = child.stderr.take().unwrap();
            let sink = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    sink.0.lock().unwrap().push(line);
                    sink.1.notify_all();
                }
            });
            let mut moto = Moto { child, port, log };
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if probe(port) == Some(200) {
                    return moto;
                }
                if let Some(status) = moto.child.try_wait().unwrap() {
                    if moto.stderr().contains("Address already in use") {
                        break;
                    }
                    panic!("moto_server exited ({status}):\n{}", moto.stderr());
                }
                assert!(
                    Instant::now() < deadline,
                    "moto_server did not answer within 60 s:\n{}",
                    moto.stderr()
                );
                // Polling interval while moto imports; readiness itself is the HTTP answer.
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("moto_server could not bind a free port three times");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stderr(&self) -> String {
        self.log.0.lock().unwrap().join("\n")
    }

    /// How many requests moto logged whose request line contains `needle` (e.g.
    /// `GET /2020-05-31/distribution?`), once at least `expected` have been (moto logs a
    /// request after answering it, so the line can trail the client's exit), or after 10 s.
    pub fn requests(&self, needle: &str, expected: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(10);
        let (lines, cv) = &*self.log;
        let mut guard = lines.lock().unwrap();
        loop {
            let n = guard.iter().filter(|l| l.contains(needle)).count();
            let now = Instant::now();
            if n >= expected || now >= deadline {
                return n;
            }
            guard = cv.wait_timeout(guard, deadline - now).unwrap().0;
        }
    }

    /// Calls made as `access_key` in `region`.
    pub fn as_caller<'a>(&'a self, access_key: &'a str, region: &'a str) -> Caller<'a> {
        Caller {
            moto: self,
            access_key,
            region,
        }
    }
}

/// Sends AWS calls the way moto reads them: moto routes by the service and region of the
/// SigV4 credential scope and picks the account by the access key; it does not check
/// signatures, so none is computed.
pub struct Caller<'a> {
    moto: &'a Moto,
    access_key: &'a str,
    region: &'a str,
}

impl Caller<'_> {
    pub async fn send(
        &self,
        service: &str,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: String,
    ) -> (u16, String) {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/20261122/{}/{service}/aws4_request, SignedHeaders=host, Signature=0",
            self.access_key, self.region
        );
        let resp = reqwest::Client::new()
            .request(method, format!("{}{path}", self.moto.url()))
            .header("authorization", auth)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
