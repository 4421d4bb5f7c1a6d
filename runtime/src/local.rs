//! The in-process runtime: every participant on its own node, nodes joined by an
//! [`InProcessNetwork`].
//!
//! A [`LocalCluster`] keeps one node per participant name across sessions, so several
//! sessions of the same choreography share nodes as they would in a deployment, and their
//! frames are kept apart only by session ids.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ChoreoError;
use crate::ident::{Participant, ParticipantId, SessionId};
use crate::net::transport::{InProcessNetwork, NodeId, lock};
use crate::node::{Node, NodeConfig, NodeStats};
use crate::program::{Outcomes, Program};

/// Participants on in-process nodes. See [`Program`] for an example.
pub struct LocalCluster {
    net: InProcessNetwork,
    config: NodeConfig,
    nodes: Mutex<BTreeMap<Participant, Node>>,
    next_session: AtomicU64,
}

impl Default for LocalCluster {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalCluster {
    /// A cluster on a perfect in-process network.
    pub fn new() -> Self {
        Self::with_network(InProcessNetwork::new(), NodeConfig::default())
    }

    /// A cluster on `net` (possibly lossy) with nodes configured by `config`.
    pub fn with_network(net: InProcessNetwork, config: NodeConfig) -> Self {
        LocalCluster {
            net,
            config,
            nodes: Mutex::new(BTreeMap::new()),
            next_session: AtomicU64::new(1),
        }
    }

    /// The node hosting `participant`, started on first use (needs a running runtime).
    pub fn node(&self, participant: Participant) -> Node {
        let mut nodes = lock(&self.nodes);
        let next = NodeId(nodes.len() as u32);
        nodes
            .entry(participant)
            .or_insert_with(|| {
                Node::start(next, Arc::new(self.net.endpoint(next)), self.config.clone())
            })
            .clone()
    }

    /// Runs one new session of `program`, each participant as its own task on its node, and
    /// returns every participant's outcome.
    pub async fn run(&self, program: &Program) -> Outcomes {
        let session = SessionId(self.next_session.fetch_add(1, Ordering::Relaxed));
        let participants = program.census().participants().to_vec();
        let nodes: Vec<Node> = participants.iter().map(|&p| self.node(p)).collect();
        let placement: Arc<[NodeId]> = nodes.iter().map(Node::id).collect();
        // Open every participant's session before any runs, then run them all.
        let runs: Vec<_> = nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                program.start(node, session, ParticipantId(i as u16), placement.clone())
            })
            .collect();
        let tasks: Vec<_> = runs.into_iter().map(tokio::spawn).collect();
        let mut entries = Vec::with_capacity(tasks.len());
        for (p, task) in participants.into_iter().zip(tasks) {
            let outcome = task.await.unwrap_or_else(|e| {
                Err(ChoreoError::Closed {
                    session,
                    participant: format!("{p} ({e})"),
                })
            });
            entries.push((p, outcome));
        }
        Outcomes::new(entries)
    }

    /// The sum of every node's counters.
    pub fn stats(&self) -> NodeStats {
        let nodes = lock(&self.nodes);
        let mut total = NodeStats::default();
        for n in nodes.values() {
            let s = n.stats();
            total.frames_sent += s.frames_sent;
            total.bytes_sent += s.bytes_sent;
            total.retransmitted += s.retransmitted;
            total.delivered += s.delivered;
            total.duplicates += s.duplicates;
            total.acks_sent += s.acks_sent;
            total.acks_received += s.acks_received;
            total.dropped_finished += s.dropped_finished;
            total.held_unknown += s.held_unknown;
            total.dropped_unknown += s.dropped_unknown;
            total.corrupt += s.corrupt;
            total.unconsumed += s.unconsumed;
            total.send_errors += s.send_errors;
            total.late += s.late;
        }
        total
    }

    /// The network the nodes are on.
    pub fn network(&self) -> &InProcessNetwork {
        &self.net
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for n in lock(&self.nodes).values() {
            n.shutdown();
        }
    }
}
