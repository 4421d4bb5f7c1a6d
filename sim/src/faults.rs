//! The fault engine: fires a plan's faults at their sites and times.
//!
//! The engine sees every runtime event (through [`SimObserver`]) and counts, per fault, the
//! events that match its trigger: a send from, a receive at, or a local step of the named
//! role at the named site. When the count reaches the fault's occurrence it fires, right
//! there: a frame fault is armed for the very frame just sent (the transport applies it), a
//! crash halts the participant at that operator and has the controller kill its node, a
//! panic crashes the operator at that site (a local step, a data send or receive, or a
//! checkpoint's entry: the events a panic counts), a pause or partition goes to the
//! controller. Time triggers are scheduled by the controller; a panic at a time has no site,
//! so it crashes the role's next local step. Every firing is traced with its site and
//! occurrence.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rehearsal::Site;
use rehearsal::net::civ::Civ;
use rehearsal::net::civ::Lane;
use rehearsal::net::link::FrameKey;
use rehearsal::net::transport::NodeId;
use rehearsal::observer::{CheckpointPath, Event, FrameEvent, Observer, Verdict};
use tokio::sync::mpsc;

use crate::disk::NodeDisk;
use crate::plan::{Action, FaultKind, FaultPlan, Trigger, show_duration};
use crate::recorder::Recorder;

/// A frame fault armed for one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameFault {
    /// Hold the frame back.
    Delay(Duration),
    /// Lose it.
    Drop,
    /// Deliver it twice.
    Duplicate,
}

/// An action on nodes or links, carried out by the controller.
#[derive(Clone, Debug)]
pub(crate) enum NodeCommand {
    Crash {
        node: usize,
        restart_after: Option<Duration>,
    },
    Pause {
        node: usize,
        duration: Duration,
    },
    Partition {
        groups: [Vec<usize>; 2],
        one_way: bool,
        duration: Duration,
    },
}

#[derive(Default)]
struct EngineState {
    matches: Vec<u32>,
    fired: Vec<bool>,
    pending_panic: BTreeMap<String, String>,
    frame_faults: BTreeMap<FrameKey, FrameFault>,
}

/// Fires one plan's faults in one run.
pub struct FaultEngine {
    plan: FaultPlan,
    roles: Vec<String>,
    state: Mutex<EngineState>,
    frames_armed: AtomicBool,
    commands: mpsc::UnboundedSender<NodeCommand>,
    recorder: Arc<Recorder>,
    /// Each node's disk (by node index), for `disk` faults.
    disks: Vec<Option<NodeDisk>>,
}

/// How long a node that fail-stopped on a store failure stays down before its supervisor
/// restarts it.
pub(crate) const FAIL_STOP_RESTART: Duration = Duration::from_millis(100);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FaultEngine {
    pub(crate) fn new(
        plan: FaultPlan,
        roles: Vec<String>,
        recorder: Arc<Recorder>,
        disks: Vec<Option<NodeDisk>>,
    ) -> (Arc<FaultEngine>, mpsc::UnboundedReceiver<NodeCommand>) {
        let (commands, rx) = mpsc::unbounded_channel();
        let n = plan.faults.len();
        let engine = FaultEngine {
            plan,
            roles,
            state: Mutex::new(EngineState {
                matches: vec![0; n],
                fired: vec![false; n],
                ..EngineState::default()
            }),
            frames_armed: AtomicBool::new(false),
            commands,
            recorder,
            disks,
        };
        (Arc::new(engine), rx)
    }

    /// Node `node` fail-stopped on a store failure: its supervisor restarts it (through the
    /// controller, which kills it first: what its disk had not synced is lost).
    pub(crate) fn fail_stopped(&self, node: usize) {
        let _ = self.commands.send(NodeCommand::Crash {
            node,
            restart_after: Some(FAIL_STOP_RESTART),
        });
    }

    pub(crate) fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    fn node_of(&self, role: &str) -> Option<usize> {
        self.roles.iter().position(|r| r == role)
    }

    /// Fires fault `i` acting on `role`: records it and arms or dispatches its action.
    /// Returns `Halt` for a crash of the acting participant.
    fn fire(
        &self,
        st: &mut EngineState,
        i: usize,
        node: NodeId,
        role: &str,
        site: Option<&Site>,
        frame: Option<&Civ>,
    ) -> Verdict {
        st.fired[i] = true;
        let fault = &self.plan.faults[i];
        let when = match &fault.trigger {
            Trigger::Site { occurrence, .. } => format!("occurrence {occurrence}"),
            Trigger::Time { at, .. } => format!("time {}", show_duration(*at)),
        };
        let what = match &fault.action {
            Action::Crash { restart_after } => format!(
                "crash {role} ({when}; restart {})",
                restart_after
                    .map(|d| format!("after {}", show_duration(d)))
                    .unwrap_or_else(|| "never".into())
            ),
            Action::Panic { message } if site.is_some() => {
                format!("panic {role} ({when}; the operator there crashes: {message})")
            }
            Action::Panic { message } => {
                format!("panic {role} ({when}; next local step: {message})")
            }
            Action::Delay { by } => format!("delay frame ({when}; by {})", show_duration(*by)),
            Action::Drop => format!("drop frame ({when})"),
            Action::Duplicate => format!("duplicate frame ({when})"),
            Action::Partition {
                groups,
                one_way,
                duration,
            } => format!(
                "partition {} {} {} ({when}; for {})",
                groups[0].join(","),
                if *one_way { "-/->" } else { "<-/->" },
                groups[1].join(","),
                show_duration(*duration)
            ),
            Action::Pause { duration } => {
                format!("pause {role} ({when}; for {})", show_duration(*duration))
            }
            Action::Disk { op, count } => {
                let disk = match self.node_of(role).and_then(|n| self.disks.get(n)) {
                    Some(Some(_)) => "",
                    _ => "; no store, so nothing fails",
                };
                format!(
                    "disk {role} ({when}; the next {count} {}(s) fail{disk})",
                    op.name()
                )
            }
        };
        self.recorder.fault(node, role, site, frame, what);
        let send = |c: NodeCommand| {
            let _ = self.commands.send(c);
        };
        match &fault.action {
            Action::Delay { by } => self.arm(st, frame, FrameFault::Delay(*by)),
            Action::Drop => self.arm(st, frame, FrameFault::Drop),
            Action::Duplicate => self.arm(st, frame, FrameFault::Duplicate),
            // At a site, the operator there crashes; at a time, the role's next local step.
            Action::Panic { message } if site.is_some() => return Verdict::Panic(message.clone()),
            Action::Panic { message } => {
                st.pending_panic.insert(role.to_string(), message.clone());
            }
            Action::Crash { restart_after } => {
                if let Some(node) = self.node_of(role) {
                    send(NodeCommand::Crash {
                        node,
                        restart_after: *restart_after,
                    });
                    return Verdict::Halt;
                }
            }
            Action::Pause { duration } => {
                if let Some(node) = self.node_of(role) {
                    send(NodeCommand::Pause {
                        node,
                        duration: *duration,
                    });
                }
            }
            Action::Disk { op, count } => {
                if let Some(Some(disk)) = self.node_of(role).and_then(|n| self.disks.get(n)) {
                    disk.fail_next(*op, *count);
                }
            }
            Action::Partition {
                groups,
                one_way,
                duration,
            } => {
                let ids = |g: &Vec<String>| g.iter().filter_map(|r| self.node_of(r)).collect();
                send(NodeCommand::Partition {
                    groups: [ids(&groups[0]), ids(&groups[1])],
                    one_way: *one_way,
                    duration: *duration,
                });
            }
        }
        Verdict::Continue
    }

    fn arm(&self, st: &mut EngineState, frame: Option<&Civ>, fault: FrameFault) {
        if let Some(civ) = frame {
            st.frame_faults.insert(FrameKey::of(civ), fault);
            self.frames_armed.store(true, Ordering::Release);
        }
    }

    /// Takes the fault armed for the frame `key`, if any (the transport asks on each send).
    pub fn take_frame_fault(&self, key: &FrameKey) -> Option<FrameFault> {
        if !self.frames_armed.load(Ordering::Acquire) {
            return None;
        }
        lock(&self.state).frame_faults.remove(key)
    }

    /// Whether any frame fault is armed (lets the transport skip decoding).
    pub fn frames_armed(&self) -> bool {
        self.frames_armed.load(Ordering::Acquire)
    }

    /// Fires time-triggered fault `i` (called by the controller at its time).
    pub(crate) fn fire_timed(&self, i: usize) {
        let mut st = lock(&self.state);
        if st.fired[i] {
            return;
        }
        let role = self.plan.faults[i].trigger.role().unwrap_or("").to_string();
        let node = NodeId(self.node_of(&role).unwrap_or(0) as u32);
        let _ = self.fire(&mut st, i, node, &role, None, None);
    }

    /// Judges one runtime event.
    pub fn judge(&self, node: NodeId, event: &Event<'_>) -> Verdict {
        let (role, site, frame, is_send, is_local) = match event {
            Event::Frame {
                kind: FrameEvent::Send,
                civ,
                census,
                ..
            } => (name(*census, civ.from), &civ.site, Some(*civ), true, false),
            Event::Frame {
                kind: FrameEvent::Receive,
                civ,
                census,
                ..
            } => (name(*census, civ.to), &civ.site, Some(*civ), false, false),
            Event::Local {
                participant, site, ..
            } => (participant.to_string(), *site, None, false, true),
            Event::Checkpoint {
                participant,
                site,
                path: CheckpointPath::Enter,
                ..
            } => (participant.to_string(), *site, None, false, false),
            _ => return Verdict::Continue,
        };
        // Where a panic can crash an operator: a local step, a data frame sent or received, a
        // checkpoint's entry (not its notices). Other faults count frames and steps only.
        let is_enter = frame.is_none() && !is_local;
        let panics_here = frame.is_none_or(|civ| civ.lane == Lane::Data);
        let mut st = lock(&self.state);
        let mut verdict = Verdict::Continue;
        for (i, fault) in self.plan.faults.iter().enumerate() {
            let Trigger::Site {
                site: want,
                role: want_role,
                occurrence,
            } = &fault.trigger
            else {
                continue;
            };
            let is_panic = fault.action.kind() == FaultKind::Panic;
            if st.fired[i]
                || !want.matches(site.label.as_deref(), site.file_name(), site.line)
                || want_role.as_deref().is_some_and(|r| r != role)
                || (fault.action.kind().on_frame() && !is_send)
                || (is_panic && !panics_here)
                || (!is_panic && is_enter)
            {
                continue;
            }
            st.matches[i] += 1;
            if st.matches[i] == *occurrence {
                let target = if fault.action.kind().on_frame() {
                    role.clone()
                } else {
                    want_role.clone().unwrap_or_else(|| role.clone())
                };
                let fired = self.fire(&mut st, i, node, &target, Some(site), frame);
                if target == role {
                    verdict = verdict.and(fired);
                }
            }
        }
        if is_local && verdict == Verdict::Continue {
            if let Some(message) = st.pending_panic.remove(&role) {
                verdict = Verdict::Panic(message);
            }
        }
        verdict
    }
}

fn name(census: Option<&rehearsal::Census>, id: rehearsal::ParticipantId) -> String {
    census
        .map(|c| c.name(id))
        .unwrap_or_else(|| format!("{id}"))
}

/// The simulator's observer: records every event, then lets the fault engine judge it.
pub struct SimObserver {
    /// The trace recorder.
    pub recorder: Arc<Recorder>,
    /// The fault engine, when the run has a plan.
    pub engine: Option<Arc<FaultEngine>>,
}

impl Observer for SimObserver {
    fn on_event(&self, node: NodeId, event: &Event<'_>) -> Verdict {
        self.recorder.record(node, event);
        match &self.engine {
            Some(e) => e.judge(node, event),
            None => Verdict::Continue,
        }
    }
}

/// Carries out node commands and time-triggered faults; runs on the simulation's main node.
pub(crate) async fn control(
    engine: Arc<FaultEngine>,
    mut commands: mpsc::UnboundedReceiver<NodeCommand>,
    nodes: Vec<madsim::task::NodeId>,
    stores: Vec<Option<NodeDisk>>,
    recorder: Arc<Recorder>,
) {
    // The tasks it starts end with it: one still sleeping when the run ends (a timed fault
    // after the end, a restart) would otherwise outlive the run with what it holds.
    let children = Children::default();
    for (i, f) in engine.plan().faults.iter().enumerate() {
        if let Trigger::Time { at, .. } = f.trigger {
            let engine = engine.clone();
            children.push(tokio::spawn(async move {
                tokio::time::sleep(at).await;
                engine.fire_timed(i);
            }));
        }
    }
    let handle = madsim::runtime::Handle::current();
    // Crash generations: only the latest crash of a node restarts it.
    let generations = Arc::new(Mutex::new(vec![0u64; nodes.len()]));
    while let Some(command) = commands.recv().await {
        let handle = handle.clone();
        let nodes = nodes.clone();
        let stores = stores.clone();
        let recorder = recorder.clone();
        let generations = generations.clone();
        children.push(tokio::spawn(async move {
            let note = |node: usize, kind: &'static str, detail: String| {
                recorder.note(NodeId(node as u32), kind, None, detail);
            };
            match command {
                NodeCommand::Crash {
                    node,
                    restart_after,
                } => {
                    let generation = {
                        let mut g = lock(&generations);
                        g[node] += 1;
                        g[node]
                    };
                    // The disk keeps what was synced; the rest dies with the process (first:
                    // nothing the dying node's store does on its way out reaches the disk).
                    let (lost, kept) = match &stores[node] {
                        Some(disk) => disk.crash(),
                        None => (", no store".to_string(), Some(0)),
                    };
                    handle.kill(nodes[node]);
                    recorder.killed(NodeId(node as u32), kept);
                    note(node, "kill", format!("node n{node} killed{lost}"));
                    if let Some(after) = restart_after {
                        tokio::time::sleep(after).await;
                        if lock(&generations)[node] == generation {
                            // Kill first: a restart alone would leave the old sockets bound.
                            handle.kill(nodes[node]);
                            handle.restart(nodes[node]);
                            note(node, "restart", format!("node n{node} restarted"));
                        }
                    }
                }
                NodeCommand::Pause { node, duration } => {
                    handle.pause(nodes[node]);
                    note(node, "pause", format!("node n{node} paused"));
                    tokio::time::sleep(duration).await;
                    handle.resume(nodes[node]);
                    note(node, "resume", format!("node n{node} resumed"));
                }
                NodeCommand::Partition {
                    groups,
                    one_way,
                    duration,
                } => {
                    let net = madsim::net::NetSim::current();
                    let links: Vec<(usize, usize)> = groups[0]
                        .iter()
                        .flat_map(|&a| groups[1].iter().map(move |&b| (a, b)))
                        .collect();
                    for &(a, b) in &links {
                        net.clog_link(nodes[a], nodes[b]);
                        if !one_way {
                            net.clog_link(nodes[b], nodes[a]);
                        }
                    }
                    tokio::time::sleep(duration).await;
                    for &(a, b) in &links {
                        net.unclog_link(nodes[a], nodes[b]);
                        if !one_way {
                            net.unclog_link(nodes[b], nodes[a]);
                        }
                    }
                    note(
                        groups[0].first().copied().unwrap_or(0),
                        "heal",
                        "partition healed".into(),
                    );
                }
            }
        }));
    }
}

/// Tasks aborted when it is dropped (with the task that owns it).
#[derive(Default)]
struct Children(Mutex<Vec<tokio::task::JoinHandle<()>>>);

impl Children {
    fn push(&self, task: tokio::task::JoinHandle<()>) {
        let mut tasks = lock(&self.0);
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for task in lock(&self.0).drain(..) {
            task.abort();
        }
    }
}
