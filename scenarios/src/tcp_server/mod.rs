//! The TCP server: Chorex's listener choreography, one nested session per connection.
//!
//! The listener choreography runs over Listener and AcceptorPool (and the two roles its
//! connections need). Listener draws the run's key and opens the listening socket; then, for
//! each of `connections` clients, AcceptorPool accepts a connection and starts one **nested
//! session** of [`Conversation`] for it (`ch.spawn_session`) over Handler and TcpClient. A
//! conversation is a loop (`ch.repeat`): TcpClient reads a line from the socket and sends it to
//! Handler; Handler answers `thank you for your message; L bytes, T total` (L the line's
//! length in bytes, T the running total over the connection) or, on `stop`, says goodbye;
//! Handler decides whether the conversation goes on (broadcast); TcpClient writes the answer to
//! the socket. When every conversation ended, each role returns what it saw of them.
//!
//! Accepts, reads, writes and the close are **effects** (`ch.side_effect_async`): logged in
//! the journal, so a participant replayed after a crash gets the logged line instead of
//! reading the socket again, and does not write an answer twice. The sockets sit behind
//! [`Connections`]: simulated clients in the simulator (and with `port=0`), a real
//! `TcpListener` in std mode (`cargo run -p rehearsal-scenarios --example tcp-server`).
//!
//! The run's key, a random number the Listener draws (logged like any effect), tells the
//! connections of one run from another's (the reference run and the projected run share one
//! [`Connections`]).

mod connections;
mod oracles;

use std::sync::Arc;

use rehearsal::{At, Choreo, ChoreoError, Choreography, Loop, Roles, Shared, roles};
use rehearsal_sim::scenario::{Param, Params, Scenario};
use serde::{Deserialize, Serialize};

#[cfg(not(madsim))]
pub use connections::TcpConnections;
pub use connections::{Connections, MAX_LINE, Script, SimulatedClients, SocketError, Transcript};
pub use oracles::{expected_replies, goodbye, thanks};

roles!(Listener, AcceptorPool, Handler, TcpClient);

/// Parameters.
pub const PARAMS: &[Param] = &[
    Param {
        name: "connections",
        default: 3,
        summary: "connections the server accepts (each a nested session)",
    },
    Param {
        name: "lines",
        default: 4,
        summary: "lines each simulated client sends before `stop`",
    },
    Param {
        name: "script",
        default: 1,
        summary: "seed of the simulated clients' line lengths and pauses",
    },
    Param {
        name: "port",
        default: 0,
        summary: "0: simulated clients; else (std mode) listen on 127.0.0.1:PORT for real ones",
    },
];

/// Oracles beyond the reference oracle.
pub const ORACLES: &[(&str, &str)] = &[
    (
        "replies-as-written",
        "every connection was answered line by line in order (`thank you for your message; L bytes, T total`, right L and T) and said goodbye once, at the end; simulated clients sent their script",
    ),
    (
        "no-io-twice",
        "from the connections' own record: every line was read once and answered once, nothing was read after the goodbye",
    ),
];

/// The listener choreography over every connection's sockets.
#[derive(Clone)]
pub struct TcpServer {
    /// How many connections it accepts before it ends.
    pub connections: u64,
    /// The sockets.
    pub sockets: Arc<dyn Connections>,
}

impl std::fmt::Debug for TcpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpServer")
            .field("connections", &self.connections)
            .finish_non_exhaustive()
    }
}

/// What every role ends with.
#[derive(Debug, Serialize, Deserialize)]
pub struct Served {
    /// Where the server listened.
    pub address: String,
    /// Each connection, in accept order.
    pub connections: Vec<Connection>,
}

/// One connection, as the listener saw it.
#[derive(Debug, Serialize, Deserialize)]
pub enum Connection {
    /// The accept failed, with this error.
    Refused(SocketError),
    /// The conversation ran and ended; its result exists at Handler and TcpClient.
    Closed(Shared<Ended, Roles![Handler, TcpClient]>),
}

/// How a conversation ended, at each of its roles.
#[derive(Debug, Serialize, Deserialize)]
pub struct Ended {
    /// Handler's count.
    pub handler: At<Tally, Handler>,
    /// The connection's transcript, from TcpClient's close.
    pub client: At<Result<Transcript, SocketError>, TcpClient>,
}

/// Handler's count of one conversation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Lines answered (before the goodbye).
    pub lines: u64,
    /// Their bytes.
    pub total: u64,
    /// Why it ended (`None` while it goes on).
    pub end: Option<End>,
}

/// Why a conversation ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum End {
    /// The client sent `stop`.
    Stop,
    /// The client closed the connection.
    Closed,
    /// Reading the connection failed.
    Failed(SocketError),
}

impl Choreography for TcpServer {
    type Census = Roles![Listener, AcceptorPool, Handler, TcpClient];
    type Output = Served;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Served, ChoreoError> {
        let run = ch.at("run").random(Listener).await?;
        let sockets = self.sockets.clone();
        let address = ch
            .at("listen")
            .side_effect_async(Listener, |l| {
                let run = *l.get(&run);
                async move { sockets.listen(run).await }
            })
            .await?;
        let listening = ch
            .locally(Listener, |l| (*l.get(&run), l.take(address)))
            .await?;
        let (run, address) = ch.at("listening").broadcast(Listener, listening).await?;
        let mut open = Vec::new();
        for k in 0..self.connections {
            let sockets = self.sockets.clone();
            let accepted = ch
                .at("accept")
                .side_effect_async(
                    AcceptorPool,
                    |_| async move { sockets.accept(run, k).await },
                )
                .await?;
            let accepted = ch.at("accepted").broadcast(AcceptorPool, accepted).await?;
            open.push(match accepted {
                Ok(conn) => Ok(ch.spawn_session(Conversation {
                    sockets: self.sockets.clone(),
                    run,
                    conn,
                })?),
                Err(e) => Err(e),
            });
        }
        let mut connections = Vec::with_capacity(open.len());
        for conversation in open {
            connections.push(match conversation {
                Ok(running) => Connection::Closed(running.join().await??),
                Err(e) => Connection::Refused(e),
            });
        }
        Ok(Served {
            address,
            connections,
        })
    }
}

/// One connection's conversation: the handler choreography, a nested session of its own.
#[derive(Clone)]
pub struct Conversation {
    sockets: Arc<dyn Connections>,
    run: u64,
    conn: u64,
}

impl Choreography for Conversation {
    type Census = Roles![Handler, TcpClient];
    type Output = Ended;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Ended, ChoreoError> {
        let Conversation { sockets, run, conn } = self;
        let tally = ch.locally(Handler, |_| Tally::default()).await?;
        // TcpClient numbers the lines, so that its socket effects are idempotent.
        let line = ch.locally(TcpClient, |_| 0u64).await?;
        let (handler, _) = ch
            .repeat((tally, line), |ch, (tally, line)| {
                let sockets = sockets.clone();
                async move { turn(&ch, sockets, run, conn, tally, line).await }
            })
            .await?;
        let client = ch
            .at("close")
            .side_effect_async(TcpClient, |_| async move { sockets.close(run, conn).await })
            .await?;
        Ok(Ended { handler, client })
    }
}

/// One line of a conversation: read, answer, decide, write.
async fn turn(
    ch: &Choreo<Roles![Handler, TcpClient]>,
    sockets: Arc<dyn Connections>,
    run: u64,
    conn: u64,
    tally: At<Tally, Handler>,
    index: At<u64, TcpClient>,
) -> Result<Loop<(At<Tally, Handler>, At<u64, TcpClient>)>, ChoreoError> {
    let reader = sockets.clone();
    let line = ch
        .at("read")
        .side_effect_async(TcpClient, |c| {
            let i = *c.get(&index);
            async move { reader.read_line(run, conn, i).await }
        })
        .await?;
    let line = ch.at("line").comm(TcpClient, Handler, &line).await?;
    let answer = ch
        .locally(Handler, |h| answer(h.get(&tally), h.take(line)))
        .await?;
    let more = ch
        .locally(Handler, |h| h.get(&answer).0.end.is_none())
        .await?;
    let more = ch.at("more").broadcast(Handler, more).await?;
    let reply = ch.locally(Handler, |h| h.get(&answer).1.clone()).await?;
    let reply = ch.at("reply").comm(Handler, TcpClient, &reply).await?;
    // A failed write (the client went away) is logged like a successful one; the next read
    // finds the connection closed and ends the conversation.
    ch.at("write")
        .side_effect_async(TcpClient, |c| {
            let (i, reply) = (*c.get(&index), c.take(reply));
            async move { sockets.write_line(run, conn, i, reply).await }
        })
        .await?;
    let tally = ch.locally(Handler, |h| h.take(answer).0).await?;
    let index = ch.locally(TcpClient, |c| c.take(index) + 1).await?;
    Ok(if more {
        Loop::Next((tally, index))
    } else {
        Loop::Done((tally, index))
    })
}

/// Handler's answer to what TcpClient read: the new tally and the reply.
fn answer(tally: &Tally, read: Result<Option<String>, SocketError>) -> (Tally, String) {
    let mut next = tally.clone();
    match read {
        Ok(Some(line)) if line != "stop" => {
            next.lines += 1;
            next.total += line.len() as u64;
            let reply = thanks(line.len() as u64, next.total);
            return (next, reply);
        }
        Ok(Some(_)) => next.end = Some(End::Stop),
        Ok(None) => next.end = Some(End::Closed),
        Err(e) => next.end = Some(End::Failed(e)),
    }
    let reply = goodbye(next.lines, next.total);
    (next, reply)
}

/// The server of parameters `p` (simulated clients when `port` is 0).
pub fn server(p: &Params) -> Result<TcpServer, ChoreoError> {
    let sockets: Arc<dyn Connections> = match p.get("port") {
        0 => Arc::new(SimulatedClients::new(script(p))),
        port => real_sockets(port)?,
    };
    Ok(TcpServer {
        connections: p.get("connections"),
        sockets,
    })
}

/// The simulated clients' script of parameters `p`.
pub fn script(p: &Params) -> Script {
    Script {
        lines: p.get("lines"),
        seed: p.get("script"),
    }
}

#[cfg(not(madsim))]
fn real_sockets(port: u64) -> Result<Arc<dyn Connections>, ChoreoError> {
    let port = u16::try_from(port).map_err(|_| ChoreoError::Transport {
        detail: format!("port {port} is out of range; expected 1 to 65535"),
    })?;
    let sockets =
        TcpConnections::bind(("127.0.0.1", port)).map_err(|e| ChoreoError::Transport {
            detail: format!("cannot listen on 127.0.0.1:{port}: {e}"),
        })?;
    Ok(Arc::new(sockets))
}

#[cfg(madsim)]
fn real_sockets(port: u64) -> Result<Arc<dyn Connections>, ChoreoError> {
    Err(ChoreoError::Transport {
        detail: format!(
            "port={port}: real sockets need a std-mode build (`cargo run -p rehearsal-scenarios --example tcp-server -- --port {port}`); the simulator serves simulated clients (port=0)"
        ),
    })
}

/// The scenario.
pub fn scenario() -> Scenario {
    Scenario::new(
        "tcp-server",
        "Chorex's TCP server: a listener accepts connections and runs one nested handler session per connection, answering each line with its length and the running total; socket I/O are logged effects",
        server,
    )
    .roles(["Listener", "AcceptorPool", "Handler", "TcpClient"])
    .params(PARAMS.iter().copied())
    .range(
        "connections",
        1,
        50,
        "each connection is a nested session of its own, all open at once",
    )
    .range(
        "lines",
        0,
        1_000,
        "every line is three frames and two logged effects, and the transcripts are part of the outcome",
    )
    .range("port", 0, 65_535, "")
    .oracle(ORACLES[0].0, ORACLES[0].1, oracles::replies_as_written)
    .oracle(ORACLES[1].0, ORACLES[1].1, oracles::no_io_twice)
    .build()
}
