//! `forgesafe serve` as a real process: it listens, answers its probe endpoints over a real
//! socket, keeps running, and exits 0 at once on SIGTERM (how Kubernetes stops a pod) or SIGINT,
//! even with a client's keep-alive connection still open.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc;

/// A running `forgesafe serve` on a port of its own choosing, and the stderr lines it printed.
struct Served {
    child: Child,
    port: u16,
    stderr: mpsc::Receiver<String>,
}

impl Served {
    /// Starts on 127.0.0.1:0 (the kernel picks the port, so no race with other tests) and reads
    /// the port from the line that says it listens.
    fn start() -> Served {
        let mut child = common::forgesafe()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start forgesafe serve");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let port = loop {
            let line = rx
                .recv()
                .expect("forgesafe serve ended before it said where it listens");
            if let Some(at) = line.find("address=127.0.0.1:") {
                let rest = &line[at + "address=127.0.0.1:".len()..];
                break rest
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
            }
        };
        Served {
            child,
            port,
            stderr: rx,
        }
    }

    fn signal(&self, signal: i32) {
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, signal) },
            0,
            "cannot signal forgesafe serve"
        );
    }

    fn wait(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(
            out, "",
            "serve prints nothing on stdout (stdout is for phase outputs)"
        );
        // Every line up to the end of the pipe: the reader thread may still be passing on the
        // last ones after the process has exited (try_iter here once lost the final line).
        (
            status.code(),
            self.stderr.iter().collect::<Vec<_>>().join("\n"),
        )
    }
}

/// One HTTP/1.1 request on an open connection, keeping it alive; returns (status, body).
fn get(stream: &mut TcpStream, port: u16, path: &str) -> (u16, String) {
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("not an HTTP answer: {status_line:?}"));
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status.parse().unwrap(), String::from_utf8(body).unwrap())
}

#[test]
fn answers_probes_and_exits_0_on_sigterm_with_a_connection_open() {
    let served = Served::start();
    let mut connection = TcpStream::connect(("127.0.0.1", served.port)).unwrap();
    assert_eq!(
        get(&mut connection, served.port, "/healthz"),
        (200, "ok".to_string())
    );
    assert_eq!(get(&mut connection, served.port, "/readyz").0, 200);
    assert_eq!(
        get(&mut connection, served.port, "/no-such-endpoint").0,
        404
    );
    // A second client at the same time (kubelet's liveness and readiness probes are separate).
    let mut other = TcpStream::connect(("127.0.0.1", served.port)).unwrap();
    assert_eq!(get(&mut other, served.port, "/healthz").0, 200);
    let mut served = served;
    assert!(
        served.child.try_wait().unwrap().is_none(),
        "serve must keep running after answering"
    );

    // `connection` stays open and idle: stopping must not wait for clients to hang up.
    served.signal(libc::SIGTERM);
    let (code, stderr) = served.wait();
    assert_eq!(code, Some(0), "SIGTERM must exit 0; stderr:\n{stderr}");
    assert!(
        stderr.contains("SIGTERM"),
        "the stop is logged with its signal: {stderr}"
    );
    drop(connection);
}

#[test]
fn exits_0_on_sigint() {
    let served = Served::start();
    let mut connection = TcpStream::connect(("127.0.0.1", served.port)).unwrap();
    assert_eq!(get(&mut connection, served.port, "/healthz").0, 200);
    served.signal(libc::SIGINT);
    let (code, stderr) = served.wait();
    assert_eq!(code, Some(0), "SIGINT must exit 0; stderr:\n{stderr}");
}

#[test]
fn an_address_in_use_fails_with_one_line_naming_it() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let out = common::run_expect(
        common::forgesafe().args(["serve", "--listen", &address]),
        69,
    );
    let stderr = common::stderr(&out);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(
        lines[0].contains(&address) && lines[0].contains("--listen"),
        "names the address and the way out: {stderr}"
    );
}

#[test]
fn a_malformed_listen_address_is_refused() {
    let out = common::run_expect(
        common::forgesafe().args(["serve", "--listen", "localhost"]),
        69,
    );
    assert!(
        common::stderr(&out).contains("--listen"),
        "{}",
        common::stderr(&out)
    );
}
