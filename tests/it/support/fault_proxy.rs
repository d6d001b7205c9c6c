//! A fault-injecting TCP proxy for the tests (std threads): it sits between cutover and a real
//! Dovecot and breaks the connection the way networks and servers do.
//!
//! ```ignore
//! // The 3rd connection is reset after 200 KB server->client:
//! let p = FaultProxy::start(dovecot.port, vec![
//!     Fault::new(Dir::Down, Trigger::Bytes(200_000), Action::Cut).on(Conns::Nth(3)),
//! ]);
//! // point `port = p.port` of [source] at it
//! ```
//!
//! Directions: `Up` is client->server (commands, APPEND literals), `Down` is server->client
//! (FETCH literals, replies). Bytes are counted per connection or globally across all of them
//! (`.global()`), so "after 5 MB of FETCH, whichever connection carries it" is expressible too.
//! Each fault fires at most `times` times (default once), so a retrying client gets through.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// client -> server
    Up,
    /// server -> client
    Down,
}

/// When a fault fires.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// Once this many bytes went through in the fault's direction (per connection, or
    /// globally with `.global()`); the bytes before the threshold are forwarded.
    Bytes(u64),
    /// The client sent this text (e.g. `" APPEND "`, `" LOGIN "`); the fault applies to the
    /// fault's direction from then on. With `Dir::Up` the chunk holding the text is not
    /// forwarded (the server never sees it); with `Dir::Down` the client's data still flows
    /// and the next server data triggers the action (a reply that never arrives).
    ClientSent(String),
}

/// What a fault does.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    /// Reset both sides at once (RST).
    Cut,
    /// Forward nothing more in this direction and close both sides cleanly (FIN).
    Truncate,
    /// Stop forwarding this direction for a while, then go on.
    Stall(Duration),
    /// Stop forwarding this direction (the other keeps flowing) for a while, then reset both
    /// sides: "the server got the command, its reply was lost".
    HoldThenCut(Duration),
    /// Wait this long before forwarding each chunk from the trigger on.
    Delay(Duration),
    /// Send this text to the receiving side instead of what came (e.g. an untagged
    /// `* BYE ...` of a throttling server), keep the other direction flowing for a while,
    /// then reset both sides.
    SayThenCut(&'static str, Duration),
    /// From the trigger on, replace every occurrence of the first text by the second in this
    /// direction (a server whose replies carry what the test needs, e.g. escape sequences in
    /// a `NO` text); the connection goes on. The text must arrive within one read (a short
    /// reply line does).
    Rewrite(&'static str, &'static str),
}

/// Which connections a fault applies to (numbered from 1 in accept order).
#[derive(Debug, Clone, Copy)]
pub enum Conns {
    All,
    Nth(usize),
    FirstK(usize),
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub dir: Dir,
    pub trigger: Trigger,
    pub action: Action,
    pub conns: Conns,
    pub global: bool,
    pub times: usize,
}

impl Fault {
    pub fn new(dir: Dir, trigger: Trigger, action: Action) -> Fault {
        Fault {
            dir,
            trigger,
            action,
            conns: Conns::All,
            global: false,
            times: 1,
        }
    }
    pub fn on(mut self, c: Conns) -> Fault {
        self.conns = c;
        self
    }
    /// Count bytes across all connections instead of per connection.
    pub fn global(mut self) -> Fault {
        self.global = true;
        self
    }
    /// Fire up to `n` times (each time on a connection it applies to).
    pub fn times(mut self, n: usize) -> Fault {
        self.times = n;
        self
    }
}

struct Shared {
    target: u16,
    faults: Vec<Fault>,
    fired: Vec<AtomicUsize>,
    global_bytes: [AtomicU64; 2],
    conns: AtomicUsize,
    stop: AtomicBool,
    log: Mutex<Vec<String>>,
    /// Client -> server bytes per connection (index = connection number - 1), when recording.
    recorded: Option<Mutex<Vec<Vec<u8>>>>,
    /// Round trips per connection (see `FaultProxy::round_trips`).
    turns: Mutex<Vec<usize>>,
}

/// A running proxy on 127.0.0.1 (stopped on drop).
pub struct FaultProxy {
    pub port: u16,
    shared: Arc<Shared>,
}

impl FaultProxy {
    pub fn start(target_port: u16, faults: Vec<Fault>) -> FaultProxy {
        Self::start_with(target_port, faults, false)
    }

    /// A proxy without faults that keeps every byte the client sent, per connection (see
    /// [`FaultProxy::client_bytes`]): what cutover said to the server, to count commands.
    pub fn recording(target_port: u16) -> FaultProxy {
        Self::start_with(target_port, Vec::new(), true)
    }

    /// What each connection's client sent so far, in accept order (recording proxies only).
    pub fn client_bytes(&self) -> Vec<Vec<u8>> {
        self.shared
            .recorded
            .as_ref()
            .expect("a recording proxy")
            .lock()
            .unwrap()
            .clone()
    }

    fn start_with(target_port: u16, faults: Vec<Fault>, record: bool) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            target: target_port,
            fired: faults.iter().map(|_| AtomicUsize::new(0)).collect(),
            faults,
            global_bytes: [AtomicU64::new(0), AtomicU64::new(0)],
            conns: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            log: Mutex::new(Vec::new()),
            recorded: record.then(|| Mutex::new(Vec::new())),
            turns: Mutex::new(Vec::new()),
        });
        let sh = shared.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                if sh.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let n = sh.conns.fetch_add(1, Ordering::SeqCst) + 1;
                let sh = sh.clone();
                thread::spawn(move || serve(sh, n, client));
            }
        });
        FaultProxy { port, shared }
    }

    /// How often each fault fired, in the order given.
    pub fn fired(&self) -> Vec<usize> {
        self.shared
            .fired
            .iter()
            .map(|f| f.load(Ordering::SeqCst))
            .collect()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.conns.load(Ordering::SeqCst)
    }

    /// Per connection (accept order), how many times the client sent something after the
    /// server had sent something since the client's last bytes: the round trips it waited on
    /// (the greeting's included). Pipelined commands written at once count once; a window of
    /// commands the server answers while the client still writes may count more than once,
    /// so this is exact for short exchanges (a no-op pass) and an upper bound otherwise.
    pub fn round_trips(&self) -> Vec<usize> {
        self.shared.turns.lock().unwrap().clone()
    }

    /// One line per fault applied, for assertion messages.
    pub fn log(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One proxied connection's state, shared by its two pumps.
struct Conn {
    n: usize,
    client: TcpStream,
    server: TcpStream,
    /// Per-fault: the client sent the fault's text on this connection.
    armed: Vec<AtomicBool>,
    bytes: [AtomicU64; 2],
    dead: AtomicBool,
    /// The server sent something since the client's last bytes (see `round_trips`).
    replied: AtomicBool,
}

impl Conn {
    fn reset(&self) {
        self.dead.store(true, Ordering::SeqCst);
        for s in [&self.client, &self.server] {
            let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
            let _ = s.shutdown(Shutdown::Both);
        }
    }
    fn close(&self) {
        self.dead.store(true, Ordering::SeqCst);
        for s in [&self.client, &self.server] {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn serve(sh: Arc<Shared>, n: usize, client: TcpStream) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", sh.target)) else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let conn = Arc::new(Conn {
        n,
        client: client.try_clone().unwrap(),
        server: server.try_clone().unwrap(),
        armed: sh.faults.iter().map(|_| AtomicBool::new(false)).collect(),
        bytes: [AtomicU64::new(0), AtomicU64::new(0)],
        dead: AtomicBool::new(false),
        replied: AtomicBool::new(false),
    });
    let (sh2, c2) = (sh.clone(), conn.clone());
    let up = thread::spawn(move || pump(&sh2, &c2, Dir::Up));
    pump(&sh, &conn, Dir::Down);
    let _ = up.join();
}

fn applies(f: &Fault, n: usize) -> bool {
    match f.conns {
        Conns::All => true,
        Conns::Nth(k) => n == k,
        Conns::FirstK(k) => n <= k,
    }
}

fn idx(d: Dir) -> usize {
    match d {
        Dir::Up => 0,
        Dir::Down => 1,
    }
}

/// Claim one firing of fault `i`; false when it has fired `times` already.
fn claim(sh: &Shared, i: usize) -> bool {
    sh.fired[i]
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
            (v < sh.faults[i].times).then_some(v + 1)
        })
        .is_ok()
}

fn pump(sh: &Shared, conn: &Conn, dir: Dir) {
    let (mut from, mut to) = match dir {
        Dir::Up => (&conn.client, &conn.server),
        Dir::Down => (&conn.server, &conn.client),
    };
    let mut buf = vec![0u8; 16 * 1024];
    // The end of the previous chunk, so a text split across reads is still found.
    let mut tail: Vec<u8> = Vec::new();
    // Faults of this direction that fired on this connection and keep acting (Delay).
    let mut delaying: Option<Duration> = None;
    let mut rewriting: Option<(&'static str, &'static str)> = None;
    let mut rewritten: Vec<u8>;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                if !conn.dead.load(Ordering::SeqCst) {
                    let _ = to.shutdown(Shutdown::Write);
                }
                return;
            }
            Ok(n) => n,
        };
        if conn.dead.load(Ordering::SeqCst) {
            return;
        }
        let mut chunk = &buf[..n];
        match dir {
            Dir::Down => conn.replied.store(true, Ordering::SeqCst),
            Dir::Up => {
                let mut turns = sh.turns.lock().unwrap();
                if turns.len() < conn.n {
                    turns.resize(conn.n, 0);
                }
                if conn.replied.swap(false, Ordering::SeqCst) {
                    turns[conn.n - 1] += 1;
                }
            }
        }
        if let (Dir::Up, Some(rec)) = (dir, &sh.recorded) {
            let mut rec = rec.lock().unwrap();
            if rec.len() < conn.n {
                rec.resize(conn.n, Vec::new());
            }
            rec[conn.n - 1].extend_from_slice(chunk);
        }
        if dir == Dir::Up {
            let mut hay = tail.clone();
            hay.extend_from_slice(chunk);
            for (i, f) in sh.faults.iter().enumerate() {
                if let Trigger::ClientSent(text) = &f.trigger
                    && applies(f, conn.n)
                    && find(&hay, text.as_bytes())
                {
                    conn.armed[i].store(true, Ordering::SeqCst);
                }
            }
            let keep = hay.len().saturating_sub(64);
            tail = hay[keep..].to_vec();
        }
        // The first fault of this direction that fires within this chunk.
        let mut fire: Option<(usize, usize)> = None; // (fault, bytes forwarded before it)
        for (i, f) in sh.faults.iter().enumerate() {
            if f.dir != dir || !applies(f, conn.n) {
                continue;
            }
            if sh.fired[i].load(Ordering::SeqCst) >= f.times {
                continue;
            }
            let at = match &f.trigger {
                Trigger::Bytes(limit) => {
                    let before = if f.global {
                        sh.global_bytes[idx(dir)].load(Ordering::SeqCst)
                    } else {
                        conn.bytes[idx(dir)].load(Ordering::SeqCst)
                    };
                    if before + chunk.len() as u64 > *limit {
                        Some(limit.saturating_sub(before) as usize)
                    } else {
                        None
                    }
                }
                Trigger::ClientSent(_) => conn.armed[i].load(Ordering::SeqCst).then_some(0),
            };
            if let Some(at) = at
                && fire.is_none_or(|(_, a)| at < a)
            {
                fire = Some((i, at));
            }
        }
        if let Some((i, at)) = fire
            && claim(sh, i)
        {
            let f = &sh.faults[i];
            sh.log.lock().unwrap().push(format!(
                "connection {}: {:?} after {} bytes {:?}: {:?}",
                conn.n,
                f.trigger,
                conn.bytes[idx(dir)].load(Ordering::SeqCst) + at as u64,
                dir,
                f.action
            ));
            let (head, rest) = chunk.split_at(at.min(chunk.len()));
            if !head.is_empty() && to.write_all(head).is_err() {
                return;
            }
            count(sh, conn, dir, head.len());
            chunk = rest;
            match f.action {
                Action::Cut => {
                    conn.reset();
                    return;
                }
                Action::Truncate => {
                    conn.close();
                    return;
                }
                Action::HoldThenCut(d) => {
                    thread::sleep(d);
                    conn.reset();
                    return;
                }
                Action::SayThenCut(text, d) => {
                    let _ = to.write_all(text.as_bytes());
                    let _ = to.flush();
                    thread::sleep(d);
                    conn.reset();
                    return;
                }
                Action::Stall(d) => thread::sleep(d),
                Action::Delay(d) => delaying = Some(d),
                Action::Rewrite(from, to) => rewriting = Some((from, to)),
            }
            if conn.dead.load(Ordering::SeqCst) {
                return;
            }
        }
        if let Some(d) = delaying {
            thread::sleep(d);
        }
        if let Some((from, to)) = rewriting {
            rewritten = replace(chunk, from.as_bytes(), to.as_bytes());
            chunk = &rewritten;
        }
        if !chunk.is_empty() {
            if to.write_all(chunk).is_err() {
                return;
            }
            count(sh, conn, dir, chunk.len());
        }
    }
}

fn count(sh: &Shared, conn: &Conn, dir: Dir, n: usize) {
    conn.bytes[idx(dir)].fetch_add(n as u64, Ordering::SeqCst);
    sh.global_bytes[idx(dir)].fetch_add(n as u64, Ordering::SeqCst);
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if !from.is_empty() && hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}
