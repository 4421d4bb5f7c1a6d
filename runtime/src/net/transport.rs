//! The transport seam: how frames leave and reach a node.
//!
//! A [`Transport`] moves opaque datagrams between nodes and promises nothing: frames may be
//! lost, duplicated, reordered and delayed. The link layer above it
//! ([`link`](crate::net::link)) makes delivery effectively-once and ordered. This module also holds
//! the in-process transport, [`InProcessNetwork`], whose optional [`NetFaults`] make it as
//! unreliable as a real network so std-mode tests exercise the link layer.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::mpsc;

use crate::error::TransportError;

/// A boxed, sendable future: what the object-safe seams of the runtime return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The address of a node (one process hosting participants).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
pub struct NodeId(pub u32);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// Moves datagrams between nodes. Implementations may lose, duplicate, reorder and delay
/// frames; they report an error only when they can never deliver again.
pub trait Transport: Send + Sync + 'static {
    /// Queues one datagram for `to`, best effort, without waiting (like a UDP `send_to`).
    fn send(&self, to: NodeId, frame: Vec<u8>) -> Result<(), TransportError>;
    /// Waits for the next datagram and the node it came from.
    fn recv(&self) -> BoxFuture<'_, Result<(NodeId, Vec<u8>), TransportError>>;
    /// What the transport promises; by default nothing (frames may be lost, duplicated or
    /// reordered), so the link layer does all its work.
    fn guarantees(&self) -> Guarantees {
        Guarantees::default()
    }
}

/// What a [`Transport`] promises about the datagrams it carries between live nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Guarantees {
    /// Every datagram sent to a live node arrives, exactly once (no loss, no duplicates).
    pub reliable: bool,
    /// Datagrams from one node to another arrive in the order they were sent.
    pub ordered: bool,
}

/// How unreliable an [`InProcessNetwork`] is. The default is a perfect network.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NetFaults {
    /// Probability that a frame is lost.
    pub loss: f64,
    /// Probability that a frame is delivered twice.
    pub duplicate: f64,
    /// Each frame is delayed by a uniform time in `0..=max_delay`, which reorders frames.
    pub max_delay: Duration,
}

/// Counters of an [`InProcessNetwork`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Datagrams handed to the network.
    pub sent: u64,
    /// Datagrams lost on purpose.
    pub lost: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
}

type Inbox = mpsc::UnboundedSender<(NodeId, Vec<u8>)>;

struct NetInner {
    nodes: Mutex<BTreeMap<NodeId, Inbox>>,
    faults: NetFaults,
    rng: Mutex<ChaCha8Rng>,
    stats: Mutex<NetStats>,
}

/// An in-process network of nodes connected by channels, optionally lossy.
///
/// ```
/// use rehearsal::net::transport::{InProcessNetwork, NodeId, Transport};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let net = InProcessNetwork::new();
/// let a = net.endpoint(NodeId(0));
/// let b = net.endpoint(NodeId(1));
/// a.send(NodeId(1), b"hi".to_vec()).unwrap();
/// assert_eq!(b.recv().await.unwrap(), (NodeId(0), b"hi".to_vec()));
/// # }
/// ```
#[derive(Clone)]
pub struct InProcessNetwork {
    inner: Arc<NetInner>,
}

impl Default for InProcessNetwork {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessNetwork {
    /// A perfect network: no loss, no duplication, no delay.
    pub fn new() -> Self {
        Self::with_faults(0, NetFaults::default())
    }

    /// A network with the given faults, drawn from a generator seeded with `seed`.
    pub fn with_faults(seed: u64, faults: NetFaults) -> Self {
        InProcessNetwork {
            inner: Arc::new(NetInner {
                nodes: Mutex::new(BTreeMap::new()),
                faults,
                rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
                stats: Mutex::new(NetStats::default()),
            }),
        }
    }

    /// Attaches node `id` and returns its transport. Attaching an id again replaces the old
    /// endpoint (as a restarted process takes over its address).
    pub fn endpoint(&self, id: NodeId) -> InProcessTransport {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.inner.nodes).insert(id, tx);
        InProcessTransport {
            id,
            net: self.clone(),
            rx: tokio::sync::Mutex::new(rx),
        }
    }

    /// The network's counters so far.
    pub fn stats(&self) -> NetStats {
        *lock(&self.inner.stats)
    }

    fn route(&self, from: NodeId, to: NodeId, frame: Vec<u8>) -> Result<(), TransportError> {
        let target = lock(&self.inner.nodes)
            .get(&to)
            .cloned()
            .ok_or(TransportError::Unreachable(to.0))?;
        let f = self.inner.faults;
        if f == NetFaults::default() {
            // A perfect network draws nothing from its generator.
            lock(&self.inner.stats).sent += 1;
            // A closed receiver is a dead node: the frame is lost, as on a real network.
            let _ = target.send((from, frame));
            return Ok(());
        }
        let (copies, delays) = {
            let mut rng = lock(&self.inner.rng);
            let mut stats = lock(&self.inner.stats);
            stats.sent += 1;
            if f.loss > 0.0 && rng.gen_bool(f.loss.min(1.0)) {
                stats.lost += 1;
                return Ok(());
            }
            let copies = if f.duplicate > 0.0 && rng.gen_bool(f.duplicate.min(1.0)) {
                stats.duplicated += 1;
                2
            } else {
                1
            };
            let max = f.max_delay.as_micros() as u64;
            let delays: Vec<u64> = (0..copies)
                .map(|_| if max == 0 { 0 } else { rng.gen_range(0..=max) })
                .collect();
            (copies, delays)
        };
        let payloads = if copies == 2 {
            vec![frame.clone(), frame]
        } else {
            vec![frame]
        };
        for (frame, delay) in payloads.into_iter().zip(delays) {
            if delay == 0 {
                // A closed receiver is a dead node: the frame is lost, as on a real network.
                let _ = target.send((from, frame));
            } else {
                let target = target.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_micros(delay)).await;
                    let _ = target.send((from, frame));
                });
            }
        }
        Ok(())
    }
}

/// One node's endpoint on an [`InProcessNetwork`].
pub struct InProcessTransport {
    id: NodeId,
    net: InProcessNetwork,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<(NodeId, Vec<u8>)>>,
}

impl Transport for InProcessTransport {
    fn send(&self, to: NodeId, frame: Vec<u8>) -> Result<(), TransportError> {
        self.net.route(self.id, to, frame)
    }

    fn guarantees(&self) -> Guarantees {
        // A perfect network is a channel: it loses, duplicates and reorders nothing.
        let perfect = self.net.inner.faults == NetFaults::default();
        Guarantees {
            reliable: perfect,
            ordered: perfect,
        }
    }

    fn recv(&self) -> BoxFuture<'_, Result<(NodeId, Vec<u8>), TransportError>> {
        Box::pin(async move {
            self.rx
                .lock()
                .await
                .recv()
                .await
                .ok_or(TransportError::Closed)
        })
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (every critical
/// section here is a few assignments), so poisoning is ignored rather than propagated.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lossy_network_loses_and_duplicates_some_frames() {
        let faults = NetFaults {
            loss: 0.3,
            duplicate: 0.2,
            max_delay: Duration::ZERO,
        };
        let net = InProcessNetwork::with_faults(7, faults);
        let a = net.endpoint(NodeId(0));
        let _b = net.endpoint(NodeId(1));
        for i in 0..1000u32 {
            a.send(NodeId(1), i.to_le_bytes().to_vec()).unwrap();
        }
        let s = net.stats();
        assert_eq!(s.sent, 1000);
        assert!((200..400).contains(&s.lost), "{s:?}");
        assert!((100..220).contains(&s.duplicated), "{s:?}");
    }

    #[tokio::test]
    async fn sending_to_an_unknown_node_is_unreachable() {
        let net = InProcessNetwork::new();
        let a = net.endpoint(NodeId(0));
        assert_eq!(
            a.send(NodeId(9), vec![1]),
            Err(TransportError::Unreachable(9))
        );
    }
}
