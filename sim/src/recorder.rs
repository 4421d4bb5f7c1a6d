//! The recorder: an [`Observer`] that the simulator attaches to every node. It stamps each
//! event with simulated time, resolves participant ids to names and keeps the run's
//! [`Trace`], the uses of every site (for fault plans) and the path the run took (for the
//! reference run to follow).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rehearsal::SessionId;
use rehearsal::net::civ::{Civ, Lane};
use rehearsal::net::transport::NodeId;
use rehearsal::observer::{CheckpointPath, Event, FrameEvent, Observer, SagaStep, Verdict};

use crate::trace::{Trace, TraceEvent};

/// Records the events of every node of one run. Create it inside the simulation.
pub struct Recorder {
    start: tokio::time::Instant,
    state: Mutex<RecorderState>,
    datagrams: std::sync::atomic::AtomicU64,
    watch: Option<Arc<crate::watch::RunWatch>>,
    wire_bytes: std::sync::atomic::AtomicU64,
}

/// A site as the uses count it: label, file name and line (the column is left out).
type SiteKey = (Option<Cow<'static, str>>, Cow<'static, str>, u32);

#[derive(Default)]
struct RecorderState {
    events: Vec<TraceEvent>,
    names: BTreeMap<SessionId, Arc<Vec<String>>>,
    /// How often each participant acted at each site, per event: nested maps in the order of
    /// (site, participant, event), so that counting a use already seen allocates nothing.
    uses: BTreeMap<SiteKey, BTreeMap<String, BTreeMap<&'static str, u32>>>,
    /// The rescues and timeouts of the run, once [`Recorder::follow`] named its session.
    path: Option<rehearsal::RunPath>,
    /// The `effect-logged` oracle, fed every draw.
    effects: crate::layer_oracles::EffectLog,
    /// The `ack-durable` and `replay-resends-logged` oracles, fed every datagram sent.
    wire: crate::layer_oracles::WireLog,
    /// Each node's store, if it journals to the disk model: which batch a draw's log entry
    /// went into, and what is durable.
    stores: Vec<Option<rehearsal::store::CrashableStore>>,
}

impl RecorderState {
    /// Counts one use of `site` by participant `role` for `event`.
    fn count_use(&mut self, site: &rehearsal::Site, role: &str, event: &'static str) {
        let file = match &site.file {
            Cow::Borrowed(file) => Cow::Borrowed(file.rsplit(['/', '\\']).next().unwrap_or(file)),
            Cow::Owned(_) => Cow::Owned(site.file_name().to_string()),
        };
        let roles = self
            .uses
            .entry((site.label.clone(), file, site.line))
            .or_default();
        let events = match roles.get_mut(role) {
            Some(events) => events,
            None => roles.entry(role.to_string()).or_default(),
        };
        *events.entry(event).or_insert(0) += 1;
    }
}

impl Recorder {
    /// A recorder whose clock starts now.
    pub fn new() -> Arc<Recorder> {
        Recorder::watched(None)
    }

    /// A recorder whose clock starts now and that counts datagrams into `watch`.
    pub fn watched(watch: Option<Arc<crate::watch::RunWatch>>) -> Arc<Recorder> {
        Arc::new(Recorder {
            watch,
            start: tokio::time::Instant::now(),
            state: Mutex::new(RecorderState::default()),
            datagrams: Default::default(),
            wire_bytes: Default::default(),
        })
    }

    /// Simulated time since the recorder was made.
    pub fn elapsed(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.start)
    }

    fn now_us(&self) -> u64 {
        self.elapsed().as_micros() as u64
    }

    /// Counts a datagram handed to the network (frames, acknowledgements, retransmissions,
    /// duplicates: everything a node puts on the wire).
    pub fn datagram(&self, bytes: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.datagrams.fetch_add(1, Relaxed);
        self.wire_bytes.fetch_add(bytes as u64, Relaxed);
        if let Some(w) = &self.watch {
            w.datagram(self.now_us());
        }
    }

    /// Datagrams and bytes put on the wire so far.
    pub fn wire(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.datagrams.load(Relaxed), self.wire_bytes.load(Relaxed))
    }

    /// Records an event of the network itself (a loss or a duplicate) for the frame `civ`.
    pub fn network(&self, node: NodeId, kind: &'static str, civ: Option<&Civ>, bytes: usize) {
        let mut e = TraceEvent::new(self.now_us(), node, kind);
        let mut st = lock(&self.state);
        if let Some(civ) = civ {
            fill_frame(
                &mut e,
                civ,
                st.names.get(&civ.session).map(|n| n.as_slice()),
            );
        }
        e.bytes = Some(bytes);
        st.events.push(e);
    }

    /// Records a fault firing at `role`, with the site and frame that triggered it.
    pub fn fault(
        &self,
        node: NodeId,
        role: &str,
        site: Option<&rehearsal::Site>,
        frame: Option<&Civ>,
        what: String,
    ) {
        let mut e = TraceEvent::new(self.now_us(), node, "fault");
        let mut st = lock(&self.state);
        match frame {
            Some(civ) => fill_frame(
                &mut e,
                civ,
                st.names.get(&civ.session).map(|n| n.as_slice()),
            ),
            None => e.from = Some(role.to_string()),
        }
        e.site = site.map(|s| s.to_string());
        e.detail = Some(what);
        st.events.push(e);
    }

    /// Records a free-form event (a fault firing, a supervisor action).
    pub fn note(&self, node: NodeId, kind: &'static str, who: Option<String>, detail: String) {
        let mut e = TraceEvent::new(self.now_us(), node, kind);
        e.from = who;
        e.detail = Some(detail);
        lock(&self.state).events.push(e);
    }

    /// Every (site, acting participant) seen so far, with how often it acted there.
    pub fn site_uses(&self) -> Vec<crate::plan::SiteUse> {
        let st = lock(&self.state);
        let mut out = Vec::new();
        for ((label, file, line), roles) in &st.uses {
            for (role, events) in roles {
                for (event, count) in events {
                    out.push(crate::plan::SiteUse {
                        label: label.as_ref().map(|l| l.to_string()),
                        file: file.to_string(),
                        line: *line,
                        role: role.clone(),
                        event,
                        count: *count,
                    });
                }
            }
        }
        out
    }

    /// The trace so far.
    pub fn trace(&self) -> Trace {
        Trace {
            events: lock(&self.state).events.clone(),
        }
    }

    /// From now on, records the rescues and timeouts of session `root` (and its nested
    /// sessions) for the reference run to follow.
    pub fn follow(&self, root: SessionId) {
        lock(&self.state).path = Some(rehearsal::RunPath::new(root));
    }

    /// The rescues and timeouts recorded since [`Recorder::follow`], taken out.
    pub fn take_run_path(&self) -> Option<rehearsal::RunPath> {
        lock(&self.state).path.take()
    }

    /// What the per-layer oracles the recorder feeds as the run goes found, taken out.
    pub fn take_layer_violations(&self) -> Vec<String> {
        let mut st = lock(&self.state);
        let mut out = st.effects.take_violations();
        out.extend(st.wire.take_violations());
        out
    }

    /// Node `node` puts `bytes` on the wire (for the oracles of what goes out: see
    /// [`WireLog`](crate::layer_oracles::WireLog)).
    pub fn outgoing(&self, node: NodeId, bytes: &[u8]) {
        let t = self.now_us();
        let mut st = lock(&self.state);
        let RecorderState {
            wire,
            stores,
            names,
            ..
        } = &mut *st;
        let store = stores.get(node.0 as usize).and_then(Option::as_ref);
        wire.outgoing(node.0, bytes, store, |sent, key| {
            let kind = match sent {
                crate::layer_oracles::wire::Sent::Ack => "ack",
                crate::layer_oracles::wire::Sent::Copy => "resend",
            };
            let mut e = TraceEvent::new(t, node, kind);
            let names = names.get(&key.session).map(|n| n.as_slice());
            e.session = Some(key.session.to_string());
            e.from = Some(name(names, key.from));
            e.to = Some(name(names, key.to));
            e.lane = Some(match key.lane {
                Lane::Data => "data",
                Lane::Control => "control",
            });
            e.seq = Some(key.seq);
            e
        });
    }

    /// The whole trace, taken out: the recorder keeps nothing. A simulation ends with this,
    /// because madsim does not free every task of a finished runtime, and a task that
    /// outlives its run must not keep the run's trace alive with it.
    pub fn take_trace(&self) -> Trace {
        Trace {
            events: std::mem::take(&mut lock(&self.state).events),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn name(names: Option<&[String]>, id: rehearsal::ParticipantId) -> String {
    names
        .and_then(|n| n.get(usize::from(id.0)).cloned())
        .unwrap_or_else(|| format!("{id}"))
}

fn fill_frame(e: &mut TraceEvent, civ: &Civ, names: Option<&[String]>) {
    e.session = Some(civ.session.to_string());
    e.from = Some(name(names, civ.from));
    e.to = Some(name(names, civ.to));
    e.lane = Some(match civ.lane {
        Lane::Data => "data",
        Lane::Control => "control",
    });
    e.seq = Some(civ.seq);
    e.site = Some(civ.site.to_string());
}

fn frame_kind(kind: FrameEvent) -> &'static str {
    match kind {
        FrameEvent::Send => "send",
        FrameEvent::Retransmit => "retransmit",
        FrameEvent::Deliver => "deliver",
        FrameEvent::Duplicate => "duplicate",
        FrameEvent::Receive => "receive",
        FrameEvent::DropFinished => "drop-finished",
        FrameEvent::HoldUnknown => "hold",
        FrameEvent::DropStale => "drop-stale",
        FrameEvent::DropLate => "drop-late",
    }
}

impl Observer for Recorder {
    fn on_event(&self, node: NodeId, event: &Event<'_>) -> Verdict {
        self.record(node, event);
        Verdict::Continue
    }
}

impl Recorder {
    /// Watches the nodes' stores (by node index), so the `effect-logged` oracle knows which
    /// store batch each draw was logged in.
    pub fn watch_stores(&self, stores: Vec<Option<rehearsal::store::CrashableStore>>) {
        lock(&self.state).stores = stores;
    }

    /// Node `node` was killed; `kept`: when its kill lost unsynced store batches, the number
    /// of the last batch that survived (`Some(0)` without a store). For the `effect-logged`
    /// oracle: its draws logged after that may be drawn again.
    pub fn killed(&self, node: NodeId, kept: Option<u64>) {
        let mut st = lock(&self.state);
        st.effects.killed(node.0, kept);
        st.wire.killed(node.0);
    }

    /// Records one runtime event.
    pub fn record(&self, node: NodeId, event: &Event<'_>) {
        let t = self.now_us();
        let mut st = lock(&self.state);
        if let Some(path) = &mut st.path {
            path.record(event);
        }
        let e = match event {
            Event::SessionStart {
                session,
                participant,
            } => {
                let mut e = TraceEvent::new(t, node, "session-start");
                e.session = Some(session.to_string());
                e.from = Some(participant.to_string());
                e
            }
            Event::SessionEnd {
                session,
                participant,
                outcome,
            } => {
                let mut e = TraceEvent::new(t, node, "session-end");
                e.session = Some(session.to_string());
                e.from = Some(participant.to_string());
                e.detail = Some(match outcome {
                    Ok(json) => format!("ok {json}"),
                    Err(err) => format!("error {err}"),
                });
                e
            }
            Event::Frame {
                kind,
                civ,
                census,
                bytes,
                payload,
            } => {
                if let Some(c) = census {
                    st.names.entry(civ.session).or_insert_with(|| {
                        Arc::new(c.participants().iter().map(|p| p.to_string()).collect())
                    });
                }
                let names = st.names.get(&civ.session).cloned();
                let mut e = TraceEvent::new(t, node, frame_kind(*kind));
                fill_frame(&mut e, civ, names.as_deref().map(|n| n.as_slice()));
                e.bytes = Some(*bytes);
                e.payload = payload.map(Arc::from);
                e.epoch = Some(civ.epoch);
                if *kind == FrameEvent::Send {
                    st.wire
                        .send(node.0, rehearsal::net::link::FrameKey::of(civ));
                }
                let actor = match kind {
                    FrameEvent::Send => e.from.as_deref().map(|a| (a, "send")),
                    FrameEvent::Receive => e.to.as_deref().map(|a| (a, "receive")),
                    _ => None,
                };
                if let Some((actor, event)) = actor {
                    st.count_use(&civ.site, actor, event);
                }
                e
            }
            // Only the reference run follows draws (through the run path above); the trace
            // shows the local step that drew.
            Event::Draw {
                session,
                participant,
                site,
                epoch,
                index,
                value,
            } => {
                let batch = st
                    .stores
                    .get(node.0 as usize)
                    .and_then(Option::as_ref)
                    .map(rehearsal::store::CrashableStore::committed);
                let at = crate::layer_oracles::DrawAt {
                    node: node.0,
                    session: *session,
                    participant: *participant,
                    index: *index,
                    batch,
                };
                st.effects.draw(at, site, *epoch, value);
                return;
            }
            Event::Local {
                session,
                participant,
                site,
            } => {
                let mut e = TraceEvent::new(t, node, "local");
                e.session = Some(session.to_string());
                let who = participant.to_string();
                st.count_use(site, &who, "local");
                e.from = Some(who);
                e.site = Some(site.to_string());
                e
            }
            Event::Iteration {
                session,
                participant,
                site,
                iteration,
            } => {
                let mut e = TraceEvent::new(t, node, "iteration");
                e.session = Some(session.to_string());
                e.from = Some(participant.to_string());
                e.site = Some(site.to_string());
                e.detail = Some(format!("#{iteration}"));
                e
            }
            Event::Checkpoint {
                session,
                participant,
                site,
                block,
                path,
            } => {
                let kind = match path {
                    CheckpointPath::Enter => "block-enter",
                    CheckpointPath::Exit => "block-exit",
                    CheckpointPath::Rescue { .. } => "rescue",
                };
                if matches!(path, CheckpointPath::Enter) {
                    st.count_use(site, &participant.to_string(), "enter");
                }
                let mut e = TraceEvent::new(t, node, kind);
                e.session = Some(session.to_string());
                e.from = Some(participant.to_string());
                e.site = Some(site.to_string());
                e.detail = Some(match path {
                    CheckpointPath::Rescue { cause, dropped } => format!(
                        "block {block:016x}: {} crashed at {}: {} ({dropped} stale frame(s) dropped)",
                        cause.role, cause.site, cause.message
                    ),
                    _ => format!("block {block:016x}"),
                });
                e.epoch = Some(*block);
                e
            }
            Event::TimedOut {
                session,
                participant,
                from,
                site,
                epoch,
                occurrence,
            } => {
                let mut e = TraceEvent::new(t, node, "timed-out");
                e.session = Some(session.to_string());
                e.from = Some(participant.to_string());
                e.site = Some(site.to_string());
                e.detail = Some(format!(
                    "waiting for {from}, block {epoch:016x}, occurrence #{occurrence}"
                ));
                e
            }
            Event::Failure {
                session,
                participant,
                error,
                remote,
            } => {
                let mut e = TraceEvent::new(t, node, "failure");
                e.session = Some(session.to_string());
                e.from = Some(participant.to_string());
                e.detail = Some(format!(
                    "{} {error}",
                    if *remote { "reported" } else { "detected" }
                ));
                e
            }
            Event::Saga {
                session,
                participant,
                step,
            } => {
                let (kind, detail) = match step {
                    SagaStep::Commit { name, index } => ("saga-commit", format!("#{index} {name}")),
                    SagaStep::Abort { error, pending } => {
                        ("saga-abort", format!("{pending} to compensate: {error}"))
                    }
                    SagaStep::Compensate { name, index } => {
                        ("saga-compensate", format!("#{index} {name}"))
                    }
                };
                let mut e = TraceEvent::new(t, node, kind);
                e.session = Some(session.to_string());
                e.from = Some(participant.to_string());
                e.detail = Some(detail);
                e
            }
            Event::Sometimes {
                session,
                participant,
                site,
                label,
                reached,
            } => {
                let mut e = TraceEvent::new(t, node, "sometimes");
                e.session = Some(session.to_string());
                e.from = Some(participant.to_string());
                e.site = Some(site.to_string());
                let how = if *reached { "reached" } else { "missed" };
                e.detail = Some(format!("{how} {label}"));
                e
            }
            Event::Corrupt { from, detail } => {
                let mut e = TraceEvent::new(t, node, "corrupt");
                e.detail = Some(format!("from {from}: {detail}"));
                e
            }
        };
        st.events.push(e);
    }
}
