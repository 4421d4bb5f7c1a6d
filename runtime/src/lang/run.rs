//! Running a choreography as one participant (projected) or as every role at once (the central
//! reference run), and ending a session: the agreed end (every participant tells every other
//! that it finished and waits for theirs) and the failure that escaped every checkpoint.
//!
//! [`participate`] is a participant's whole part in one session, top-level or nested alike: a
//! participant restarted after it finished returns what its journal recorded; otherwise it
//! runs, and a crash that escaped every checkpoint is replayed from the journal (a transient
//! crash is masked; one that repeats at the same step is deterministic and ends the session);
//! then the session is closed and its end recorded durably.

use std::sync::Arc;
use std::sync::Mutex;

use serde::Serialize;

use crate::engine::journal::SessionState;
use crate::engine::notice::Control;
use crate::engine::saga::CentralSaga;
use crate::engine::session::Session;
use crate::error::ChoreoError;
use crate::ident::{Census, Participant, ParticipantId, SessionId, Site};
use crate::lang::census::RoleSet;
use crate::lang::choreo::{Choreo, Choreography, Ctx};
use crate::lang::located::view_as;
use crate::lang::path::{CentralCounts, Follow};
use crate::lang::saga;
use crate::net::civ::Lane;
use crate::node::Node;
use crate::observer::{Event, Verdict};

/// How often a participant whose local code crashed outside every checkpoint is replayed
/// from its journal before the session ends with the crash.
const MAX_REPLAYS: usize = 16;

/// A crash at the same step of the replay (same site, same message) this many times more is
/// deterministic: the session ends with it. (Once would be enough for a deterministic bug,
/// but two injected faults can land on the same step of consecutive incarnations.)
const REPEATS: usize = 2;

/// How a participant's part in a session ended.
pub(crate) enum Ended<O> {
    /// It ran to the end in this incarnation: the output, and the participant's view of it as
    /// JSON (what its journal records).
    Ran(O, String),
    /// A previous incarnation had finished: the view its journal recorded and, for a nested
    /// session, the output's encoding.
    Recorded(String, Option<Vec<u8>>),
}

impl<O> Ended<O> {
    /// The participant's view of the output, as JSON.
    pub(crate) fn json(&self) -> &str {
        match self {
            Ended::Ran(_, json) | Ended::Recorded(json, _) => json,
        }
    }
}

/// `participant`'s view of `output` as JSON: values located elsewhere are absent.
pub(crate) fn view<O: Serialize>(
    participant: Participant,
    output: &O,
) -> Result<String, ChoreoError> {
    view_as(participant, || serde_json::to_string(output)).map_err(|e| ChoreoError::Codec {
        action: "encode".into(),
        site: Box::new(Site::caller(Some("outcome"))),
        sender: participant.to_string(),
        detail: e.to_string(),
    })
}

/// A participant's whole part in `session` (see the module documentation): returns how it
/// ended, or the failure it ended with, after closing the session here and recording its end
/// (with the output's encoding when `nested`: a replayed parent gets it back).
pub(crate) async fn participate<Ch: Choreography + Clone>(
    choreo: Ch,
    node: Node,
    session: Arc<Session>,
    nested: bool,
) -> Result<Ended<Ch::Output>, ChoreoError> {
    let participant = session.participant();
    let id = session.id;
    let reopen = (nested && crate::planted::planted() == Some(crate::planted::Bug::ReopenEnded))
        .then(|| {
            (
                session.me,
                session.census.clone(),
                session.placement.clone(),
            )
        });
    let recorded = match &session.finished {
        Some(SessionState::Done(json)) => Some(Ok((json.clone(), None))),
        Some(SessionState::Returned { json, value }) => {
            Some(Ok((json.clone(), Some(value.clone()))))
        }
        Some(SessionState::Failed(e)) => Some(Err(e.clone())),
        _ => None,
    };
    let ended = match recorded {
        Some(result) => {
            node.close_session(&session);
            result.map(|(json, value)| Ended::Recorded(json, value))
        }
        None => {
            let (s, result) = replayed(choreo, &node, session).await;
            let ended = finish_projected(&node, &s, result).and_then(|out| {
                let json = view(participant, &out)?;
                let value = match nested {
                    true => Some(postcard::to_stdvec(&out).map_err(|e| ChoreoError::Codec {
                        action: "encode".into(),
                        site: Box::new(Site::caller(Some("nested-session-output"))),
                        sender: participant.to_string(),
                        detail: e.to_string(),
                    })?),
                    false => None,
                };
                Ok((out, json, value))
            });
            let record = match &ended {
                Ok((_, json, value)) => Ok((json.as_str(), value.clone())),
                Err(e) => Err(e),
            };
            if s.record_end(record).is_err() {
                node.count_store_error();
            }
            ended.map(|(out, json, _)| Ended::Ran(out, json))
        }
    };
    let _ = node.observe(Event::SessionEnd {
        session: id,
        participant,
        outcome: match &ended {
            Ok(e) => Ok(e.json()),
            Err(e) => Err(e),
        },
    });
    if let (Some((me, census, placement)), Ok(Ended::Ran(..))) = (reopen, &ended) {
        // Planted: the ended session is opened again under its id, and closed at once.
        let again = node.open_session(id, me, census, placement);
        node.close_session(&again);
    }
    ended
}

/// Runs `choreo` in `s`, replaying it from the journal after a crash that escaped every
/// checkpoint, until it ends otherwise, fails, or crashes the same way [`REPEATS`] times more.
/// Returns the session of the last incarnation and its result.
async fn replayed<Ch: Choreography + Clone>(
    choreo: Ch,
    node: &Node,
    mut s: Arc<Session>,
) -> (Arc<Session>, Result<Ch::Output, ChoreoError>) {
    let mut result = run_projected(choreo.clone(), node.clone(), s.clone()).await;
    let mut last: Option<(Site, String, Option<u64>)> = None;
    let mut repeats = 0;
    for _ in 0..MAX_REPLAYS {
        let Err(ChoreoError::Crashed { site, message, .. }) = &result else {
            break;
        };
        let this = Some(((**site).clone(), message.clone(), s.crash_step()));
        repeats = if this == last { repeats + 1 } else { 0 };
        if s.failure().is_some() || s.journal().is_none() || repeats >= REPEATS {
            break;
        }
        last = this;
        s = node.reopen_session(&s);
        result = run_projected(choreo.clone(), node.clone(), s.clone()).await;
    }
    (s, result)
}

/// Runs `choreo` as participant `session.me` on `node` until it ends (without closing the
/// session: see [`finish_projected`]).
pub(crate) async fn run_projected<Ch: Choreography>(
    choreo: Ch,
    node: Node,
    session: Arc<Session>,
) -> Result<Ch::Output, ChoreoError> {
    let ctx = Ctx::Projected {
        node: node.clone(),
        session: session.clone(),
    };
    let scope: Arc<[ParticipantId]> = (0..session.census.len())
        .map(|i| ParticipantId(i as u16))
        .collect();
    let ch = Choreo::<Ch::Census>::new(Arc::new(ctx), scope.clone());
    let output = match choreo.run(&ch).await {
        Ok(output) => agree_on_end(&ch, &node, &session, &scope)
            .await
            .map(|()| output),
        Err(e) => Err(e),
    };
    // The session failed here: compensate this participant's commits (see `lang::saga`).
    if output.is_err() && session.failure().is_some() {
        saga::compensate(&node, &session).await?;
    }
    output
}

/// The end of a session is agreed, like the exit of a checkpoint: a participant that finished
/// its part tells every other participant and waits for all of them, so a session ends
/// either with every participant's output or with the same failure at every participant
/// (also at one that had finished its part before a peer crashed).
async fn agree_on_end<C: RoleSet>(
    ch: &Choreo<C>,
    node: &Node,
    session: &Session,
    members: &[ParticipantId],
) -> Result<(), ChoreoError> {
    session.failure().map_or(Ok(()), Err)?;
    if members.len() < 2 {
        return Ok(());
    }
    let site = Site::session_end();
    let bytes = postcard::to_stdvec(&Control::Done { block: 0, chain: 0 }).unwrap_or_default();
    let others = members.iter().copied().filter(|&m| m != session.me);
    let halted = node.send_each(session, others, Lane::Control, &site, &bytes, 0) == Verdict::Halt;
    ch.halt_if(halted).await;
    session.wait_exit(0, members, 0).await.map(|_| ())
}

/// Ends `session` here with `result`: a failure detected here (a crash that escaped every
/// checkpoint, say) is sent to the other participants, then the session is closed.
fn finish_projected<T>(
    node: &Node,
    session: &Session,
    result: Result<T, ChoreoError>,
) -> Result<T, ChoreoError> {
    let result = match (result, session.failure()) {
        (Ok(_), Some(failure)) => Err(failure),
        (Err(e), None) => {
            let site = match &e {
                ChoreoError::Crashed { site, .. } => (**site).clone(),
                _ => Site::caller(None),
            };
            node.fail_session(session, e.clone(), site);
            saga::compensate_now(node, session).and(Err(e))
        }
        (r, _) => r,
    };
    node.close_session(session);
    result
}

/// Runs `choreo` centrally: every role's local code, values passed through the codec, no
/// transport. This is the reference run; it takes the rescues and timeouts `follow` names
/// (none: the fault-free reference; see `lang::path`).
pub(crate) async fn run_central<Ch: Choreography>(
    choreo: Ch,
    census: Arc<Census>,
    session: SessionId,
    follow: Arc<Follow>,
    saga: CentralSaga,
) -> Result<Ch::Output, ChoreoError> {
    let scope: Arc<[ParticipantId]> = (0..census.len()).map(|i| ParticipantId(i as u16)).collect();
    let ctx = Arc::new(Ctx::Central {
        session,
        census,
        follow,
        counts: Mutex::new(CentralCounts::default()),
        saga,
    });
    let ch = Choreo::<Ch::Census>::new(ctx.clone(), scope);
    let result = choreo.run(&ch).await;
    if let (Err(_), Ctx::Central { saga, .. }) = (&result, &*ctx) {
        saga.compensate();
    }
    result
}
