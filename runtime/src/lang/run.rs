//! Running a choreography as one participant (projected) or as every role at once (the central
//! reference run), and ending a session: the agreed end (every participant tells every other
//! that it finished and waits for theirs) and the failure that escaped every checkpoint.

use std::sync::Arc;
use std::sync::Mutex;

use crate::engine::notice::Control;
use crate::engine::saga::CentralSaga;
use crate::engine::session::Session;
use crate::error::ChoreoError;
use crate::ident::{Census, ParticipantId, SessionId, Site};
use crate::lang::census::RoleSet;
use crate::lang::choreo::{Choreo, Choreography, Ctx};
use crate::lang::path::{CentralCounts, Follow};
use crate::lang::saga;
use crate::net::civ::Lane;
use crate::node::Node;
use crate::observer::Verdict;

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
    let mut halted = false;
    for &m in members.iter().filter(|&&m| m != session.me) {
        halted |=
            node.send(session, m, Lane::Control, site.clone(), bytes.clone(), 0) == Verdict::Halt;
    }
    ch.halt_if(halted).await;
    session.wait_exit(0, members, 0).await.map(|_| ())
}

/// Ends `session` here with `result`: a failure detected here (a crash that escaped every
/// checkpoint, say) is sent to the other participants, then the session is closed.
pub(crate) fn finish_projected<T>(
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
