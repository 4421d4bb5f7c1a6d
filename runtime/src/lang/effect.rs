//! Calls to the outside world: `side_effect`, `side_effect_async`, `random` and `now` run at one
//! role and log their result in the journal before it is used, so a replay after a crash returns
//! the logged result instead of calling out again (and a replay that asks for a different effect
//! at that point is reported as nondeterminism).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::Poll;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::engine::session::Session;
use crate::error::ChoreoError;
use crate::ident::{Participant, Site};
use crate::lang::census::{Member, RoleSet};
use crate::lang::choreo::{Choreo, Ctx};
use crate::lang::located::{At, Local};
use crate::lang::role::Role;
use crate::lang::step::{crash_of, panic_message};
use crate::net::transport::lock;
use crate::node::Node;
use crate::observer::Event;
use crate::planted::{Bug, planted};

impl<C: RoleSet> Choreo<C> {
    /// Runs `effect` once at role `R` and logs its result; a replay after a crash returns
    /// the logged result instead of running it again. Use it for every call to the outside
    /// world whose result the choreography depends on.
    #[track_caller]
    pub fn side_effect<T, R, I, F>(
        &self,
        _role: R,
        effect: F,
    ) -> impl Future<Output = Result<At<T, R>, ChoreoError>> + Send
    where
        T: Serialize + DeserializeOwned + Send,
        R: Role + Member<C, I>,
        F: FnOnce(Local<'_, R>) -> T + Send,
    {
        let site = self.site();
        async move {
            self.logged::<T, R, _>("side-effect", &site, || {
                self.run_local(R::NAME.to_string(), &site, || effect(Local::new()))
            })
            .await
        }
    }

    /// [`Choreo::side_effect`] for an effect that is itself asynchronous (a socket read, a
    /// call to another service): `effect` reads the values located at `R` and returns the
    /// future that calls out; its output is logged before it is used, so a replay after a
    /// crash returns the logged output and neither calls `effect` nor awaits anything. A
    /// crash while the future is pending logs nothing, so the replay calls out again: make
    /// the effect take hold of the outside world's state only when it completes. A panic in
    /// `effect` or in its future is an application crash of `R`, like one in `locally`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use rehearsal::{Choreo, ChoreoError, Choreography, FamilySizes, LocalCluster, Program, Roles, roles};
    ///
    /// roles!(Client, Server);
    ///
    /// /// Server fetches a greeting from the outside world (here: after a pause) and sends it.
    /// #[derive(Clone)]
    /// struct Fetch;
    ///
    /// impl Choreography for Fetch {
    ///     type Census = Roles![Client, Server];
    ///     type Output = String;
    ///     async fn run(self, ch: &Choreo<Self::Census>) -> Result<String, ChoreoError> {
    ///         let name = ch.locally(Server, |_| "Client".to_string()).await?;
    ///         let greeting = ch
    ///             .side_effect_async(Server, |s| {
    ///                 let name = s.get(&name).clone();
    ///                 async move {
    ///                     tokio::time::sleep(Duration::from_millis(1)).await;
    ///                     format!("hello, {name}")
    ///                 }
    ///             })
    ///             .await?;
    ///         ch.broadcast(Server, greeting).await
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let program = Program::new(Fetch, &FamilySizes::new()).unwrap();
    /// let outcomes = LocalCluster::new().run(&program).await;
    /// assert_eq!(outcomes.get("Client"), Some(&Ok("\"hello, Client\"".to_string())));
    /// assert_eq!(outcomes, program.reference().await);
    /// # }
    /// ```
    #[track_caller]
    pub fn side_effect_async<T, R, I, F, Fut>(
        &self,
        _role: R,
        effect: F,
    ) -> impl Future<Output = Result<At<T, R>, ChoreoError>> + Send
    where
        T: Serialize + DeserializeOwned + Send,
        R: Role + Member<C, I>,
        F: FnOnce(Local<'_, R>) -> Fut + Send,
        Fut: Future<Output = T> + Send,
    {
        let site = self.site();
        async move {
            self.logged::<T, R, _>("side-effect", &site, || {
                self.run_local_async(R::NAME.to_string(), &site, || effect(Local::new()))
            })
            .await
        }
    }

    /// A random number at role `R`, logged so a replay sees the same one. In a simulation it
    /// comes from the simulator's seeded generator, so a seed reruns with the same numbers.
    #[track_caller]
    pub fn random<R, I>(
        &self,
        _role: R,
    ) -> impl Future<Output = Result<At<u64, R>, ChoreoError>> + Send
    where
        R: Role + Member<C, I>,
    {
        let site = self.site();
        async move {
            self.logged::<u64, R, _>("random", &site, || {
                self.run_local(R::NAME.to_string(), &site, draw)
            })
            .await
        }
    }

    /// The clock at role `R` (simulated time in a simulation), logged so a replay sees the
    /// same reading.
    #[track_caller]
    pub fn now<R, I>(
        &self,
        _role: R,
    ) -> impl Future<Output = Result<At<std::time::SystemTime, R>, ChoreoError>> + Send
    where
        R: Role + Member<C, I>,
    {
        let site = self.site();
        async move {
            self.logged::<std::time::SystemTime, R, _>("now", &site, || {
                self.run_local(R::NAME.to_string(), &site, std::time::SystemTime::now)
            })
            .await
        }
    }

    /// Runs the effect `run` starts at role `R` through the effect log: the first run logs
    /// its result durably before it is used; a replay returns the logged result (and checks
    /// it is the same kind of effect at the same site) without starting `run`.
    async fn logged<T, R: Role, Fut>(
        &self,
        kind: &str,
        site: &Site,
        run: impl FnOnce() -> Fut + Send,
    ) -> Result<At<T, R>, ChoreoError>
    where
        T: Serialize + DeserializeOwned + Send,
        Fut: Future<Output = Result<T, ChoreoError>> + Send,
    {
        let _op = self.begin();
        self.proceed().await?;
        // A draw's value is the run's, not the program's: the reference run along a path
        // takes the value the projected run drew at the same place (see `RunPath`).
        let followed = matches!(kind, "random" | "now");
        let (node, session) = match &*self.ctx {
            Ctx::Central {
                session,
                follow,
                counts,
                ..
            } => {
                if followed {
                    let who = Participant::role(R::NAME);
                    let n = lock(counts).next_draw(self.epoch, who, site);
                    if let Some(bytes) = follow.draw(*session, who, self.epoch, site, n) {
                        let id = self.role_id(R::NAME)?;
                        return self.decode(bytes, id, site).map(At::present);
                    }
                }
                return run().await.map(At::present);
            }
            Ctx::Projected { node, session } => (node, session),
        };
        if session.participant() != Participant::role(R::NAME) {
            return Ok(At::absent());
        }
        let index = session.effect_index();
        let replayed = session.replay_effect(kind, site);
        if followed && matches!(replayed, Ok(Some(_))) && planted() == Some(Bug::RedrawOnReplay) {
            // The planted defect: the draw runs again instead of returning the logged value
            // (the log keeps its entry, so the effects after it stay aligned).
            let value = run().await?;
            let bytes = self.encode(&value, site)?;
            self.observe_draw(node, session, site, index, &bytes);
            return Ok(At::present(value));
        }
        match replayed {
            Ok(Some(bytes)) => {
                let _ = self.observe_local(site);
                if followed {
                    self.observe_draw(node, session, site, index, &bytes);
                }
                return self.decode(&bytes, session.me, site).map(At::present);
            }
            Ok(None) => {}
            Err(detail) => {
                let err = ChoreoError::Nondeterminism {
                    role: R::NAME.to_string(),
                    site: Box::new(site.clone()),
                    detail,
                };
                return Err(self.fail(err, site));
            }
        }
        // Nothing may await between the effect's completion and its log entry: a crash there
        // would lose the result of an effect that already happened.
        let value = run().await?;
        let bytes = self.encode(&value, site)?;
        if let Err(e) = session.log_effect(kind, site, &bytes) {
            node.count_store_error();
            let err = ChoreoError::Store {
                role: R::NAME.to_string(),
                detail: e.to_string(),
            };
            return Err(self.fail(err, site));
        }
        if followed {
            self.observe_draw(node, session, site, index, &bytes);
        }
        Ok(At::present(value))
    }

    /// The asynchronous sibling of `run_local`: `start` (a local step, where faults planted
    /// at `site` fire) makes the future, which is then awaited as a step of its own; a panic
    /// in either is an application crash of `role` at `site`.
    async fn run_local_async<T, Fut: Future<Output = T> + Send>(
        &self,
        role: String,
        site: &Site,
        start: impl FnOnce() -> Fut,
    ) -> Result<T, ChoreoError> {
        let future = self.run_local(role.clone(), site, start).await?;
        let step = self.count_step();
        let mut future = Box::pin(future);
        let outcome = std::future::poll_fn(|cx| {
            match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
                Ok(Poll::Pending) => Poll::Pending,
                Err(panic) => Poll::Ready(Err(panic_message(panic.as_ref()))),
            }
        })
        .await;
        crash_of(outcome, step, role, site)
    }

    fn observe_draw(&self, node: &Node, session: &Session, site: &Site, index: u64, value: &[u8]) {
        if node.observer().is_some() {
            let _ = node.observe(Event::Draw {
                session: session.id,
                participant: session.participant(),
                site,
                epoch: self.epoch,
                index,
                value,
            });
        }
    }
}

/// A random `u64`: from madsim's seeded generator in a simulation (on Linux, rand's thread
/// generator is seeded by a system call madsim cannot intercept, so it would differ between
/// two runs of one seed), from rand's thread generator otherwise.
fn draw() -> u64 {
    #[cfg(madsim)]
    let n = madsim::rand::random::<u64>();
    #[cfg(not(madsim))]
    let n = rand::random::<u64>();
    n
}
