//! The one accept loop of the fake servers (forge REST API, Git LFS batch API): a listener on
//! a port of 127.0.0.1 the system picks (so no other server can hold it), each connection
//! handed to the handler on a thread of its own, the loop stopped and joined on drop.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

pub struct Served {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Serves every connection with `handle(stream, port)` until the returned value is dropped.
pub fn serve(handle: impl Fn(TcpStream, u16) + Send + Sync + 'static) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let handle = Arc::new(handle);
    let thread = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let handle = handle.clone();
                    // Clients may open several connections at once (parallel downloads).
                    std::thread::spawn(move || handle(stream, port));
                }
            }
        })
    };
    Served {
        port,
        stop,
        thread: Some(thread),
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wake the accept loop
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
