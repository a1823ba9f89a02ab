//! A TCP relay in front of the S3 server. "Killing" it drops every open connection and refuses
//! new ones, which is what a client sees when its S3 server dies, while the server behind it
//! (moto keeps everything in memory) keeps the repository for the checks that follow.

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

pub struct Proxy {
    pub port: u16,
    dead: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    pub bytes_up: Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    pub fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let dead = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let bytes_up = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (d, c, b) = (dead.clone(), conns.clone(), bytes_up.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if d.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
                    continue;
                };
                c.lock()
                    .unwrap()
                    .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let b2 = b.clone();
                thread::spawn(move || relay(client, server, Some(b2)));
                thread::spawn(move || relay(s2, c2, None));
            }
        });
        Proxy {
            port,
            dead,
            conns,
            bytes_up,
        }
    }

    pub fn kill(&self) {
        self.dead.store(true, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    pub fn revive(&self) {
        self.dead.store(false, Ordering::SeqCst);
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn relay(
    mut from: TcpStream,
    mut to: TcpStream,
    counter: Option<Arc<std::sync::atomic::AtomicU64>>,
) {
    let mut buf = [0u8; 64 * 1024];
    loop {
        use std::io::{Read, Write};
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Some(c) = &counter {
                    c.fetch_add(n as u64, Ordering::SeqCst);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
