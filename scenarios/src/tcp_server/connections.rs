//! The sockets of the TCP server, behind [`Connections`]: what the choreography's effects call
//! to accept a connection, read a line from it, write a line to it and close it.
//!
//! Two implementations: [`SimulatedClients`] (scripted clients, deterministic from the run's
//! parameters, used by the simulator and by `port=0`), and, in std mode, [`TcpConnections`]
//! (a real `TcpListener`; any client, such as `nc localhost PORT`). Both keep a
//! [`Transcript`] of each connection outside the participants, so what the clients were sent
//! survives a crash of the role that sent it and can be checked afterwards.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rehearsal::net::transport::BoxFuture;
use serde::{Deserialize, Serialize};

/// What went wrong with a socket, in words (it is logged in the journal like any effect's
/// result, so it must survive a replay).
pub type SocketError = String;

/// The sockets a [`TcpServer`](super::TcpServer) serves. Every method takes the run's key
/// (drawn by the Listener, see the module doc of [`super`]), so one implementation can serve
/// several runs of the choreography (the reference run and the projected run, say) without
/// mixing their connections.
///
/// Accepts, reads and writes are numbered, and idempotent by number: asking again for the
/// `k`-th accept or the `i`-th line returns what the first call got, and writing the `i`-th
/// line again writes nothing. A replayed participant calls an effect again when the log entry
/// of its result was lost (its node's disk failed the write, so the node fail-stopped after
/// the effect had happened): the numbers keep the outside world from being taken twice.
pub trait Connections: Send + Sync + 'static {
    /// Where the server listens, in words (`127.0.0.1:7878`).
    fn listen(&self, run: u64) -> BoxFuture<'_, String>;
    /// The `k`-th accept (from 0): waits for the next client and returns its connection's
    /// id; again for a `k` accepted before, that connection's id.
    fn accept(&self, run: u64, k: u64) -> BoxFuture<'_, Result<u64, SocketError>>;
    /// Reads line `i` (from 0) of connection `conn`, without its line ending; `None` when
    /// the client closed the connection. A line read before is returned again.
    fn read_line(
        &self,
        run: u64,
        conn: u64,
        i: u64,
    ) -> BoxFuture<'_, Result<Option<String>, SocketError>>;
    /// Writes `line` and a newline to connection `conn` as its reply number `i` (from 0),
    /// unless reply `i` was written before.
    fn write_line(
        &self,
        run: u64,
        conn: u64,
        i: u64,
        line: String,
    ) -> BoxFuture<'_, Result<(), SocketError>>;
    /// Closes connection `conn` and returns its transcript.
    fn close(&self, run: u64, conn: u64) -> BoxFuture<'_, Result<Transcript, SocketError>>;
}

/// What went over one connection, as the socket saw it: every line read from the client, in
/// order, every line written to it, in order, and how many reads completed (a read that found
/// the connection closed reads no line).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    /// The lines the client sent that the server read.
    pub sent: Vec<String>,
    /// The lines the server wrote to the client.
    pub received: Vec<String>,
    /// Reads that completed (lines read, and reads that found the connection closed).
    pub reads: u64,
}

/// What each simulated client sends: `lines` lines of seeded lengths, then `stop`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Script {
    /// Lines before `stop`.
    pub lines: u64,
    /// Seed of the lines' lengths and of the clients' pauses.
    pub seed: u64,
}

/// The longest line a simulated client sends, in bytes.
pub const MAX_LINE: u64 = 48;

impl Script {
    /// Line `i` of connection `conn` (0-based; `i == lines` is `stop`): between 0 and
    /// [`MAX_LINE`] bytes, starting `c{conn}l{i}:` (so it is never `stop`).
    pub fn line(&self, conn: u64, i: u64) -> String {
        if i >= self.lines {
            return "stop".into();
        }
        let len = (self.mix(conn, i, 1) % (MAX_LINE + 1)) as usize;
        let mut line = format!("c{conn}l{i}:");
        let mut fill = (b'a'..=b'z').cycle();
        while line.len() < len {
            line.push(char::from(fill.next().unwrap_or(b'a')));
        }
        line.truncate(len);
        line
    }

    /// Everything connection `conn` sends, `stop` included.
    pub fn lines_of(&self, conn: u64) -> Vec<String> {
        (0..=self.lines).map(|i| self.line(conn, i)).collect()
    }

    /// How long client `conn` thinks before sending line `i` (0.1 to 2 ms).
    fn pause(&self, conn: u64, i: u64) -> Duration {
        Duration::from_micros(100 + self.mix(conn, i, 2) % 1_900)
    }

    /// SplitMix64 of the seed, the connection, the line and a purpose.
    fn mix(&self, conn: u64, i: u64, purpose: u64) -> u64 {
        let mut z = self
            .seed
            .wrapping_add(conn.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_add(i.wrapping_mul(0xD1B5_4A32_D192_ED03))
            .wrapping_add(purpose.wrapping_mul(0x8CB9_2BA7_2F3D_8DD7));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Scripted clients: the k-th connection accepted in a run is client k, which sends
/// [`Script::lines_of`]`(k)`, one line per read, pausing before each. The clients' state (how
/// far each has got, what it received) is kept here, outside the participants, so a
/// participant replayed after a crash finds the clients where its effects left them.
#[derive(Debug)]
pub struct SimulatedClients {
    script: Script,
    runs: Mutex<HashMap<RunKey, Clients>>,
}

/// A run's clients, by connection id.
#[derive(Debug, Default)]
struct Clients {
    accepted: u64,
    by_id: BTreeMap<u64, Transcript>,
}

// Every simulation runs on an OS thread of its own, and a rerun of the same seed (the
// determinism check) draws the same run key: in the simulator the thread tells runs apart.
// A std-mode run's key is a real random number, and its participants may run on any thread.
#[cfg(madsim)]
type RunKey = (std::thread::ThreadId, u64);
#[cfg(madsim)]
fn run_key(run: u64) -> RunKey {
    (std::thread::current().id(), run)
}
#[cfg(not(madsim))]
type RunKey = u64;
#[cfg(not(madsim))]
fn run_key(run: u64) -> RunKey {
    run
}

impl SimulatedClients {
    /// Clients that follow `script`.
    pub fn new(script: Script) -> Self {
        SimulatedClients {
            script,
            runs: Mutex::new(HashMap::new()),
        }
    }

    /// Their script.
    pub fn script(&self) -> Script {
        self.script
    }

    fn with<T>(&self, run: u64, f: impl FnOnce(&mut Clients) -> T) -> T {
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        f(runs.entry(run_key(run)).or_default())
    }

    fn with_client<T>(
        &self,
        run: u64,
        conn: u64,
        f: impl FnOnce(&mut Transcript) -> T,
    ) -> Result<T, SocketError> {
        self.with(run, |c| match c.by_id.get_mut(&conn) {
            Some(t) => Ok(f(t)),
            None => Err(format!("connection {conn} was never accepted")),
        })
    }
}

impl Connections for SimulatedClients {
    fn listen(&self, run: u64) -> BoxFuture<'_, String> {
        // A listen starts the run's clients afresh: the reference run along a projected run's
        // path draws the same run key (it follows the run's draws) and listens again once the
        // projected run has ended.
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(run_key(run), Clients::default());
        Box::pin(async { "simulated clients".to_string() })
    }

    fn accept(&self, run: u64, k: u64) -> BoxFuture<'_, Result<u64, SocketError>> {
        Box::pin(async move {
            // The client appears when the accept completes: a crash while waiting for it
            // (nothing logged yet) leaves it for the replay's accept.
            Ok(self.with(run, |c| {
                if k < c.accepted {
                    return k;
                }
                let id = c.accepted;
                c.accepted += 1;
                c.by_id.insert(id, Transcript::default());
                id
            }))
        })
    }

    fn read_line(
        &self,
        run: u64,
        conn: u64,
        i: u64,
    ) -> BoxFuture<'_, Result<Option<String>, SocketError>> {
        Box::pin(async move {
            let before = self.with_client(run, conn, |t| {
                t.sent.get(i as usize).cloned().map(Some).or_else(|| {
                    // Read before and found closed: closed again.
                    (i < t.reads && i > self.script.lines).then_some(None)
                })
            })?;
            if let Some(line) = before {
                return Ok(line);
            }
            let next = self.with_client(run, conn, |t| t.sent.len() as u64)?;
            tokio::time::sleep(self.script.pause(conn, next)).await;
            // The line is taken only now, when the read completes (see above).
            self.with_client(run, conn, |t| {
                t.reads = t.reads.max(i + 1);
                let i = t.sent.len() as u64;
                (i <= self.script.lines).then(|| {
                    let line = self.script.line(conn, i);
                    t.sent.push(line.clone());
                    line
                })
            })
        })
    }

    fn write_line(
        &self,
        run: u64,
        conn: u64,
        i: u64,
        line: String,
    ) -> BoxFuture<'_, Result<(), SocketError>> {
        Box::pin(async move {
            self.with_client(run, conn, |t| {
                if i >= t.received.len() as u64 {
                    t.received.push(line);
                }
            })
        })
    }

    fn close(&self, run: u64, conn: u64) -> BoxFuture<'_, Result<Transcript, SocketError>> {
        Box::pin(async move { self.with_client(run, conn, |t| t.clone()) })
    }
}

#[cfg(not(madsim))]
pub use real::TcpConnections;

#[cfg(not(madsim))]
mod real {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

    use super::*;

    /// The longest line a real client may send, in bytes.
    pub const MAX_REAL_LINE: u64 = 64 * 1024;

    /// A real TCP listener and its connections (std mode). Each connection's transcript is
    /// what this side read and wrote.
    #[derive(Debug)]
    pub struct TcpConnections {
        address: std::net::SocketAddr,
        /// The bound listener until the first accept moves it into the runtime.
        bound: Mutex<Option<std::net::TcpListener>>,
        listener: tokio::sync::Mutex<Option<tokio::net::TcpListener>>,
        open: Mutex<BTreeMap<u64, Arc<tokio::sync::Mutex<Socket>>>>,
        next: AtomicU64,
    }

    #[derive(Debug)]
    struct Socket {
        reader: BufReader<OwnedReadHalf>,
        writer: OwnedWriteHalf,
        transcript: Transcript,
    }

    impl TcpConnections {
        /// Binds `address` now (port 0: any free port; see [`TcpConnections::local_addr`]).
        pub fn bind(address: impl std::net::ToSocketAddrs) -> std::io::Result<Self> {
            let bound = std::net::TcpListener::bind(address)?;
            bound.set_nonblocking(true)?;
            Ok(TcpConnections {
                address: bound.local_addr()?,
                bound: Mutex::new(Some(bound)),
                listener: tokio::sync::Mutex::new(None),
                open: Mutex::new(BTreeMap::new()),
                next: AtomicU64::new(0),
            })
        }

        /// The address it listens on.
        pub fn local_addr(&self) -> std::net::SocketAddr {
            self.address
        }

        fn socket(&self, conn: u64) -> Result<Arc<tokio::sync::Mutex<Socket>>, SocketError> {
            let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            open.get(&conn)
                .cloned()
                .ok_or_else(|| format!("connection {conn} is not open"))
        }
    }

    impl Connections for TcpConnections {
        fn listen(&self, _run: u64) -> BoxFuture<'_, String> {
            Box::pin(async move { self.address.to_string() })
        }

        fn accept(&self, _run: u64, k: u64) -> BoxFuture<'_, Result<u64, SocketError>> {
            Box::pin(async move {
                let mut listener = self.listener.lock().await;
                // Connection ids are the accepts' numbers.
                if k < self.next.load(Ordering::Relaxed) {
                    return Ok(k);
                }
                if listener.is_none() {
                    let bound = self
                        .bound
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take();
                    let bound =
                        bound.ok_or_else(|| format!("the listener on {} is gone", self.address))?;
                    let l = tokio::net::TcpListener::from_std(bound)
                        .map_err(|e| format!("cannot listen on {}: {e}", self.address))?;
                    *listener = Some(l);
                }
                let Some(l) = listener.as_ref() else {
                    return Err(format!("the listener on {} is gone", self.address));
                };
                let (stream, _peer) = l
                    .accept()
                    .await
                    .map_err(|e| format!("accept on {} failed: {e}", self.address))?;
                let (reader, writer) = stream.into_split();
                let id = self.next.fetch_add(1, Ordering::Relaxed);
                let socket = Socket {
                    reader: BufReader::new(reader),
                    writer,
                    transcript: Transcript::default(),
                };
                self.open
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id, Arc::new(tokio::sync::Mutex::new(socket)));
                Ok(id)
            })
        }

        fn read_line(
            &self,
            _run: u64,
            conn: u64,
            i: u64,
        ) -> BoxFuture<'_, Result<Option<String>, SocketError>> {
            Box::pin(async move {
                let socket = self.socket(conn)?;
                let mut s = socket.lock().await;
                if let Some(line) = s.transcript.sent.get(i as usize) {
                    return Ok(Some(line.clone()));
                }
                if i < s.transcript.reads {
                    return Ok(None);
                }
                let mut bytes = Vec::new();
                let n = (&mut s.reader)
                    .take(MAX_REAL_LINE + 1)
                    .read_until(b'\n', &mut bytes)
                    .await
                    .map_err(|e| format!("reading connection {conn} failed: {e}"))?;
                s.transcript.reads += 1;
                if n == 0 {
                    return Ok(None);
                }
                if bytes.last() == Some(&b'\n') {
                    bytes.pop();
                    if bytes.last() == Some(&b'\r') {
                        bytes.pop();
                    }
                } else if bytes.len() as u64 > MAX_REAL_LINE {
                    return Err(format!(
                        "connection {conn} sent a line longer than {MAX_REAL_LINE} bytes"
                    ));
                }
                let line = String::from_utf8(bytes)
                    .map_err(|_| format!("connection {conn} sent a line that is not UTF-8"))?;
                s.transcript.sent.push(line.clone());
                Ok(Some(line))
            })
        }

        fn write_line(
            &self,
            _run: u64,
            conn: u64,
            i: u64,
            line: String,
        ) -> BoxFuture<'_, Result<(), SocketError>> {
            Box::pin(async move {
                let socket = self.socket(conn)?;
                let mut s = socket.lock().await;
                if i < s.transcript.received.len() as u64 {
                    return Ok(());
                }
                let mut bytes = line.clone().into_bytes();
                bytes.push(b'\n');
                s.writer
                    .write_all(&bytes)
                    .await
                    .map_err(|e| format!("writing connection {conn} failed: {e}"))?;
                s.transcript.received.push(line);
                Ok(())
            })
        }

        fn close(&self, _run: u64, conn: u64) -> BoxFuture<'_, Result<Transcript, SocketError>> {
            Box::pin(async move {
                let socket = self
                    .open
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&conn)
                    .ok_or_else(|| format!("connection {conn} is not open"))?;
                let mut s = socket.lock().await;
                // The client may be gone already; its transcript is what matters now.
                let _ = s.writer.shutdown().await;
                Ok(s.transcript.clone())
            })
        }
    }
}
