//! Loops with bounded replay: `repeat` snapshots every participant's loop state at each
//! iteration boundary, so a participant restarted in iteration k resumes there instead of
//! replaying the whole history (like continue-as-new).

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ChoreoError;
use crate::lang::census::RoleSet;
use crate::lang::choreo::{Choreo, Ctx, spawn_point};
use crate::observer::Event;

impl<C: RoleSet> Choreo<C> {
    /// Runs `body` as a loop: each iteration gets a handle and the state and returns
    /// [`Loop::Next`] with the next state or [`Loop::Done`] with the final one. With a store,
    /// every participant snapshots its loop state at every iteration boundary, so a
    /// participant restarted in iteration k resumes at iteration k instead of replaying the
    /// whole history (like continue-as-new). Every participant must make the same decision
    /// (branch on broadcast values).
    ///
    /// `ch.repeat(0u64, |ch, n| async move { ..; Ok(Loop::Next(n + 1)) })`.
    #[track_caller]
    pub fn repeat<S, F, Fut>(
        &self,
        init: S,
        mut body: F,
    ) -> impl Future<Output = Result<S, ChoreoError>> + Send
    where
        S: Serialize + DeserializeOwned + Send,
        F: FnMut(Choreo<C>, S) -> Fut + Send,
        Fut: Future<Output = Result<Loop<S>, ChoreoError>> + Send,
    {
        let site = self.site();
        async move {
            let _op = self.begin();
            self.proceed().await?;
            let Ctx::Projected { node, session } = &*self.ctx else {
                let mut state = init;
                loop {
                    match body(self.clone(), state).await? {
                        Loop::Next(s) => state = s,
                        Loop::Done(s) => return Ok(s),
                    }
                }
            };
            let key = session.next_repeat(spawn_point(&site, &[]) ^ self.epoch);
            let durable = session.journal().is_some();
            let (mut iteration, mut state) = match session.snapshot(key) {
                Some(snap) => {
                    session.restore(&snap.counters);
                    let state = self.decode(&snap.state, session.me, &site)?;
                    (snap.iteration, state)
                }
                None => (0, init),
            };
            loop {
                if durable {
                    let bytes = self.encode(&state, &site)?;
                    if let Err(e) = session.save_snapshot(key, iteration, bytes) {
                        node.count_store_error();
                        let err = ChoreoError::Store {
                            role: session.participant().to_string(),
                            detail: e.to_string(),
                        };
                        return Err(self.fail(err, &site));
                    }
                }
                if node.observer().is_some() {
                    let _ = node.observe(Event::Iteration {
                        session: session.id,
                        participant: session.participant(),
                        site: &site,
                        iteration,
                    });
                }
                match body(self.clone(), state).await? {
                    Loop::Next(s) => {
                        state = s;
                        iteration += 1;
                    }
                    Loop::Done(s) => return Ok(s),
                }
            }
        }
    }
}

/// What one iteration of [`Choreo::repeat`] decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Loop<S> {
    /// Run another iteration with this state.
    Next(S),
    /// Stop with this state.
    Done(S),
}
