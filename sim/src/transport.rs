//! The simulated transport: rehearsal frames as datagrams on madsim's network.
//!
//! Each node binds one madsim [`Endpoint`] at its fixed address. Sending is a queue drained
//! by a task on the node (a `send_to` that never blocks the caller, like a UDP socket).
//! madsim applies latency; this transport applies loss, duplication and extra reordering
//! delay from a generator seeded per node, and records each of them in the trace with the
//! frame it hit.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::net::Endpoint;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rehearsal::error::TransportError;
use rehearsal::net::link::{FrameKey, Packet};
use rehearsal::net::transport::{BoxFuture, NodeId, Transport};
use tokio::sync::mpsc;

use crate::faults::{FaultEngine, FrameFault};
use crate::net::NetConfig;
use crate::recorder::Recorder;

/// The port every node listens on.
pub const PORT: u16 = 7000;
const TAG: u64 = 0x7265_6865_6172_7365;

/// Nodes per first octet of the address plan: 256 values of the second octet times 250 of
/// the third.
const PER_BLOCK: u32 = 256 * 250;

/// The most nodes the address plan holds: every census size the runtime accepts (up to
/// `u16::MAX` participants, one node each) and then some.
pub const MAX_NODES: u32 = 10 * PER_BLOCK;

/// The fixed address of node `id`: `<10 + b>.<r / 250>.<(r % 250) + 1>.1` where
/// `b = id / 64,000` and `r = id % 64,000` (so nodes below 64,000 are `10.x.y.1`). Ids at or
/// past [`MAX_NODES`] wrap around; [`crate::Sim`] never makes that many nodes.
pub fn address(id: NodeId) -> SocketAddr {
    let id = id.0 % MAX_NODES;
    let (block, rest) = (id / PER_BLOCK, id % PER_BLOCK);
    let ip = Ipv4Addr::new(
        10 + block as u8,
        (rest / 250) as u8,
        (rest % 250 + 1) as u8,
        1,
    );
    SocketAddr::new(IpAddr::V4(ip), PORT)
}

/// The node at `addr`, if it is one of the plan's addresses.
pub fn node_at(addr: SocketAddr) -> Option<NodeId> {
    match addr.ip() {
        IpAddr::V4(ip) => {
            let [a, b, c, d] = ip.octets();
            let block = u32::from(a)
                .checked_sub(10)
                .filter(|b| *b < MAX_NODES / PER_BLOCK)?;
            (d == 1 && (1..=250).contains(&c))
                .then(|| NodeId(block * PER_BLOCK + u32::from(b) * 250 + u32::from(c) - 1))
        }
        IpAddr::V6(_) => None,
    }
}

/// One node's endpoint on the simulated network.
pub struct SimTransport {
    id: NodeId,
    endpoint: Endpoint,
    queue: mpsc::UnboundedSender<(NodeId, Vec<u8>)>,
    net: NetConfig,
    rng: Mutex<ChaCha8Rng>,
    recorder: Arc<Recorder>,
    engine: Option<Arc<FaultEngine>>,
}

impl SimTransport {
    /// Binds node `id`'s address and starts its sender task (call on the node). `stream`
    /// separates the generators of successive incarnations of the same node.
    pub async fn bind(
        id: NodeId,
        net: NetConfig,
        seed: u64,
        stream: u64,
        recorder: Arc<Recorder>,
        engine: Option<Arc<FaultEngine>>,
    ) -> std::io::Result<SimTransport> {
        let endpoint = Endpoint::bind(address(id)).await?;
        let (queue, mut rx) = mpsc::unbounded_channel::<(NodeId, Vec<u8>)>();
        let out = endpoint.clone();
        tokio::spawn(async move {
            while let Some((to, bytes)) = rx.recv().await {
                // A send to an unbound address is a loss, as for UDP.
                let _ = out.send_to_raw(address(to), TAG, Box::new(bytes)).await;
            }
        });
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ u64::from(id.0).wrapping_mul(0x9E37_79B9));
        rng.set_stream(stream);
        Ok(SimTransport {
            id,
            endpoint,
            queue,
            net,
            rng: Mutex::new(rng),
            recorder,
            engine,
        })
    }

    fn record(&self, kind: &'static str, bytes: &[u8]) {
        let civ = match Packet::decode(self.id, bytes) {
            Ok(Packet::Frame { civ, .. }) => Some(civ),
            // Acknowledgements are not traced one by one.
            _ => return,
        };
        self.recorder
            .network(self.id, kind, civ.as_ref(), bytes.len());
    }
}

impl Transport for SimTransport {
    fn send(&self, to: NodeId, frame: Vec<u8>) -> Result<(), TransportError> {
        self.recorder.datagram(frame.len());
        self.recorder.outgoing(self.id, &frame);
        let planned = match &self.engine {
            Some(engine) if engine.frames_armed() => match Packet::decode(self.id, &frame) {
                Ok(Packet::Frame { civ, .. }) => engine.take_frame_fault(&FrameKey::of(&civ)),
                _ => None,
            },
            _ => None,
        };
        match planned {
            None => {}
            Some(FrameFault::Drop) => return Ok(()),
            Some(FrameFault::Duplicate) => {
                self.queue
                    .send((to, frame.clone()))
                    .map_err(|_| TransportError::Closed)?;
            }
            Some(FrameFault::Delay(by)) => {
                let queue = self.queue.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(by).await;
                    let _ = queue.send((to, frame));
                });
                return Ok(());
            }
        }
        let (lost, twice, delay) = {
            let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
            let lost = self.net.loss > 0.0 && rng.gen_bool(self.net.loss);
            let twice = !lost && self.net.duplicate > 0.0 && rng.gen_bool(self.net.duplicate);
            let delay = if !lost && self.net.reorder > 0.0 && rng.gen_bool(self.net.reorder) {
                rng.gen_range(0..=self.net.latency_max_us.max(1))
            } else {
                0
            };
            (lost, twice, delay)
        };
        if lost {
            self.record("net-drop", &frame);
            return Ok(());
        }
        if twice {
            self.record("net-duplicate", &frame);
            self.queue
                .send((to, frame.clone()))
                .map_err(|_| TransportError::Closed)?;
        }
        if delay == 0 {
            self.queue
                .send((to, frame))
                .map_err(|_| TransportError::Closed)
        } else {
            let queue = self.queue.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_micros(delay)).await;
                let _ = queue.send((to, frame));
            });
            Ok(())
        }
    }

    fn recv(&self) -> BoxFuture<'_, Result<(NodeId, Vec<u8>), TransportError>> {
        Box::pin(async move {
            loop {
                let (payload, from) = self
                    .endpoint
                    .recv_from_raw(TAG)
                    .await
                    .map_err(|e| TransportError::Io(e.to_string()))?;
                // Anything that is not bytes from a planned address is not ours: ignore it.
                if let (Ok(bytes), Some(node)) = (payload.downcast::<Vec<u8>>(), node_at(from)) {
                    return Ok((node, *bytes));
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_nodes_correspond() {
        for id in [
            0,
            1,
            249,
            250,
            251,
            1000,
            63_999,
            64_000,
            65_535,
            MAX_NODES - 1,
        ] {
            assert_eq!(node_at(address(NodeId(id))), Some(NodeId(id)));
        }
        // Every node of the largest census the runtime accepts has an address of its own
        // (the plan wrapped at 64,000 nodes once: madsim's "IP conflict").
        let distinct: std::collections::BTreeSet<_> = (0..=u32::from(u16::MAX))
            .map(|id| address(NodeId(id)))
            .collect();
        assert_eq!(distinct.len(), usize::from(u16::MAX) + 1);
        assert_eq!(address(NodeId(0)).to_string(), "10.0.1.1:7000");
        assert_eq!(address(NodeId(64_000)).to_string(), "11.0.1.1:7000");
    }
}
