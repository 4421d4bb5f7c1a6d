//! A simulated node's supervisor: what runs on each madsim node, and again at each restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rehearsal::net::link::LinkConfig;
use rehearsal::net::transport::NodeId;
use rehearsal::store::Store;
use rehearsal::{ChoreoError, Node, NodeConfig, ParticipantId, Program, RoleOutcome, SessionId};
use tokio::sync::mpsc;

use crate::disk::NodeStore;
use crate::faults::{FaultEngine, SimObserver};
use crate::net::NetConfig;
use crate::recorder::Recorder;
use crate::transport::{SimTransport, address};

/// What a node's supervisor needs to (re)start its participant.
pub(crate) struct Post {
    pub(crate) index: usize,
    pub(crate) seed: u64,
    pub(crate) net: NetConfig,
    pub(crate) link: LinkConfig,
    pub(crate) program: Program,
    pub(crate) session: SessionId,
    pub(crate) placement: Arc<[NodeId]>,
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) observer: Arc<SimObserver>,
    pub(crate) engine: Option<Arc<FaultEngine>>,
    pub(crate) store: Option<Arc<NodeStore>>,
    pub(crate) outcomes: mpsc::UnboundedSender<(usize, RoleOutcome)>,
    pub(crate) incarnation: AtomicU64,
}

impl Post {
    /// The node stopped at a store failure, as if its process died there: nothing of its
    /// after that is reported, and its supervisor restarts it on what the disk kept (through
    /// the fault engine, which only a run with faults has: without one, a store failure is
    /// the participant's outcome).
    fn fail_stop(&self, id: NodeId, detail: String) {
        self.recorder.note(id, "fail-stop", None, detail.clone());
        match &self.engine {
            Some(engine) => engine.fail_stopped(self.index),
            None => {
                let err = ChoreoError::Store {
                    role: self.program.census().participants()[self.index].to_string(),
                    detail,
                };
                let _ = self.outcomes.send((self.index, Err(err)));
            }
        }
    }
}

/// A node's supervisor: binds the node's address, starts the runtime node over the node's
/// store, runs the participant (after a restart: replays it from its journal), reports its
/// outcome, and keeps the node alive so its link layer can finish retransmitting. madsim
/// calls it again whenever the node restarts.
pub(crate) async fn supervise(post: Arc<Post>) {
    let id = NodeId(post.index as u32);
    let incarnation = post.incarnation.fetch_add(1, Ordering::Relaxed);
    let transport = match SimTransport::bind(
        id,
        post.net,
        post.seed,
        incarnation,
        post.recorder.clone(),
        post.engine.clone(),
    )
    .await
    {
        Ok(t) => t,
        Err(e) => {
            let err = ChoreoError::Transport {
                detail: format!("node {id} cannot bind {}: {e}", address(id)),
            };
            let _ = post.outcomes.send((post.index, Err(err)));
            return std::future::pending().await;
        }
    };
    // A restarted process opens its store again, on what its disk kept; a disk that fails
    // the opening stops it as a failure later would.
    let store = match post.store.as_ref().map(|s| s.open()).transpose() {
        Ok(store) => store,
        Err(error) => {
            let error = format!("node {id} cannot open its store: {error}");
            post.fail_stop(id, error);
            return std::future::pending().await;
        }
    };
    let config = NodeConfig {
        link: post.link,
        observer: Some(post.observer.clone()),
        store: store.map(|s| s as Arc<dyn Store>),
    };
    let node = Node::start(id, Arc::new(transport), config);
    let me = ParticipantId(post.index as u16);
    let run = post
        .program
        .start(&node, post.session, me, post.placement.clone());
    // Biased: tokio's select! would pick its first branch from an unseeded generator.
    let error = tokio::select! {
        biased;
        outcome = run => {
            // A store failure ends the run with an error too: not an outcome, a fail-stop.
            if !node.is_fail_stopped() {
                let _ = post.outcomes.send((post.index, outcome));
            }
            // Kept alive so its link layer can finish retransmitting; a store failure on
            // the way (an acknowledgement's write) still stops it.
            node.fail_stopped().await
        }
        error = node.fail_stopped() => error,
    };
    post.fail_stop(id, format!("node {id} fail-stopped: {error}"));
    std::future::pending::<()>().await
}
