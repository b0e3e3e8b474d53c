//! The built `rampart-proxy` binary as a child process: for the command line, signals and
//! measurements of the process itself (memory).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Builds a workspace binary once per test run (cargo test does not build other packages'
/// binaries) and returns its path.
fn built(package: &'static str, cell: &'static OnceLock<PathBuf>) -> PathBuf {
    cell.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", package, "--bin", package])
            .status()
            .expect("running cargo build");
        assert!(status.success(), "cargo build of {package} failed");
        // target/debug/deps/integration-HASH -> target/debug/PACKAGE
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().and_then(|d| d.parent()).unwrap();
        let bin = dir.join(package);
        assert!(bin.is_file(), "{} missing after build", bin.display());
        bin
    })
    .clone()
}

pub fn proxy_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    built("rampart-proxy", &BIN)
}

pub fn verify_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    built("rampart-verify", &BIN)
}

/// Runs the binary to completion and returns (status, stdout, stderr).
pub fn run(args: &[&str]) -> (ExitStatus, String, String) {
    let out = Command::new(proxy_bin()).args(args).output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[derive(Default)]
struct Output {
    lines: Vec<String>,
    /// The pipe reached EOF: the process closed it (normally by exiting).
    closed: bool,
}

type Lines = Arc<(Mutex<Output>, Condvar)>;

pub struct ProxyProcess {
    child: Child,
    lines: Lines,
    stdout: Lines,
}

fn collect(reader: impl std::io::Read + Send + 'static) -> Lines {
    let lines: Lines = Arc::new((Mutex::new(Output::default()), Condvar::new()));
    let l = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            let (m, cv) = &*l;
            m.lock().unwrap().lines.push(line);
            cv.notify_all();
        }
        l.0.lock().unwrap().closed = true;
        l.1.notify_all();
    });
    lines
}

fn wait_line(lines: &Lines, needle: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    let (m, cv) = &**lines;
    let mut guard = m.lock().unwrap();
    loop {
        if let Some(l) = guard.lines.iter().find(|l| l.contains(needle)) {
            return Some(l.clone());
        }
        let now = Instant::now();
        if now >= deadline || guard.closed {
            return None;
        }
        guard = cv.wait_timeout(guard, deadline - now).unwrap().0;
    }
}

impl ProxyProcess {
    /// Starts the binary with `args` (plain-text logs) and waits until it logs that it is ready.
    pub fn spawn(args: &[&str]) -> (ProxyProcess, SocketAddr) {
        let mut child = Command::new(proxy_bin())
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = collect(child.stderr.take().unwrap());
        let stdout = collect(child.stdout.take().unwrap());
        let mut p = ProxyProcess {
            child,
            lines,
            stdout,
        };
        let ready = p.wait_for_log("rampart-proxy ready", Duration::from_secs(30));
        let Some(ready) = ready else {
            let _ = p.child.kill();
            panic!("proxy did not become ready; stderr:\n{}", p.stderr());
        };
        let addr = ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix("listen="))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no listen= in {ready:?}"));
        (p, addr)
    }

    /// Starts the binary without waiting for anything (for `--demo` and failing starts).
    pub fn spawn_raw(args: &[&str]) -> ProxyProcess {
        let mut child = Command::new(proxy_bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = collect(child.stderr.take().unwrap());
        let stdout = collect(child.stdout.take().unwrap());
        ProxyProcess {
            child,
            lines,
            stdout,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Blocks until a stderr line contains `needle` (readiness by log line, not by sleeping).
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        wait_line(&self.lines, needle, timeout)
    }

    pub fn wait_for_stdout(&self, needle: &str, timeout: Duration) -> Option<String> {
        wait_line(&self.stdout, needle, timeout)
    }

    /// How many stderr lines contain `needle` so far.
    pub fn count_log(&self, needle: &str) -> usize {
        self.lines
            .0
            .lock()
            .unwrap()
            .lines
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    pub fn stderr(&self) -> String {
        self.lines.0.lock().unwrap().lines.join("\n")
    }

    pub fn stdout(&self) -> String {
        self.stdout.0.lock().unwrap().lines.join("\n")
    }

    /// Sends a signal by name (HUP, TERM, INT) with kill(1): the project forbids unsafe code,
    /// so no libc call.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// A field of /proc/PID/status in KiB (VmRSS, VmHWM).
    pub fn status_kib(&self, field: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// Waits for the process to exit: its stderr reaching EOF says it has (or closed it).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        {
            let (m, cv) = &*self.lines;
            let mut guard = m.lock().unwrap();
            while !guard.closed {
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                guard = cv.wait_timeout(guard, deadline - now).unwrap().0;
            }
        }
        Some(self.child.wait().unwrap())
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one run of the verifier binary produced.
pub struct VerifyRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl VerifyRun {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// Runs `rampart-verify ARGS` in `dir` (or the current directory) to completion.
pub fn run_verify(dir: Option<&std::path::Path>, args: &[&str]) -> VerifyRun {
    let mut cmd = Command::new(verify_bin());
    cmd.args(args);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = cmd.output().unwrap();
    VerifyRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
