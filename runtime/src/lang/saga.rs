//! Sagas: `ch.transaction(role, name, commit, compensate)` and what every participant does
//! when the session fails after it committed something.
//!
//! A transaction commits at one role, once per (session, name): `commit` reads and writes the
//! node's application records through a [`Tx`], and those writes are applied in one store
//! batch together with the transaction's claim in the saga log, so a commit happened exactly
//! when its claim exists (exactly-once by construction for state kept in the store; for
//! anything outside it, [`Tx::idempotency_key`] is the same in every replay). A replay returns
//! the logged result without running `commit` again.
//!
//! A commit that says no (`Err(reason)`), or `ch.abort(role, name, reason)` with a reason, is
//! a business abort: the session fails with
//! [`ChoreoError::Aborted`], and the failure notice goes to every participant (durably, like
//! every control notice). Each participant marks its saga failed, refuses every later commit
//! in the session, and compensates what it committed, in reverse commit order, each
//! compensation exactly once (its own records and its done-mark in one batch), resuming after
//! a crash in the middle. A participant that had already finished its part is still waiting
//! for the session's agreed end, so it compensates too.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::engine::saga::{Bug, CentralSaga, Claim, Committed, Handler, Tx, planted};
use crate::engine::session::Session;
use crate::error::ChoreoError;
use crate::ident::{Participant, Site};
use crate::lang::census::{Member, RoleSet};
use crate::lang::choreo::{Choreo, Ctx};
use crate::lang::located::{At, Local};
use crate::lang::role::Role;
use crate::lang::step::panic_message;
use crate::net::transport::lock;
use crate::node::Node;
use crate::observer::{Event, SagaStep, Verdict};

fn handler<T, G>(compensate: G) -> Handler
where
    T: DeserializeOwned,
    G: Fn(&mut Tx<'_>, &T) + Send + Sync + 'static,
{
    Arc::new(move |tx: &mut Tx<'_>, bytes: &[u8]| {
        let value: T = postcard::from_bytes(bytes)
            .map_err(|e| format!("the logged result does not decode: {e}"))?;
        std::panic::catch_unwind(AssertUnwindSafe(|| compensate(tx, &value)))
            .map_err(|_| "the compensation panicked".to_string())
    })
}

impl<C: RoleSet> Choreo<C> {
    /// Runs transaction `name` at role `R`: `commit` reads and writes the node's application
    /// records through its [`Tx`] and returns `Ok(value)` (committed) or `Err(reason)` (a
    /// business abort: the session fails with [`ChoreoError::Aborted`] everywhere). If the
    /// session fails later, every participant runs the `compensate` of each of its commits,
    /// last commit first, with the committed value.
    ///
    /// The commit runs once per (session, name): its claim and its writes are one store batch,
    /// and a replay (or a second call with the same name) returns the logged value.
    ///
    /// ```
    /// use rehearsal::{Choreo, ChoreoError, Choreography, FamilySizes, LocalCluster, Program, Roles, roles};
    ///
    /// roles!(Shop, Bank);
    ///
    /// #[derive(Clone)]
    /// struct Buy { price: u64 }
    ///
    /// impl Choreography for Buy {
    ///     type Census = Roles![Shop, Bank];
    ///     type Output = u64;
    ///     async fn run(self, ch: &Choreo<Self::Census>) -> Result<u64, ChoreoError> {
    ///         let price = self.price;
    ///         // Reserve one item: compensation puts it back.
    ///         ch.transaction(Shop, "reserve", |_, tx| {
    ///             let stock = tx.get_or("stock", 3u64);
    ///             if stock == 0 { return Err("sold out".to_string()); }
    ///             tx.put("stock", &(stock - 1));
    ///             Ok(stock - 1)
    ///         }, |tx, _left: &u64| {
    ///             let stock = tx.get_or("stock", 3u64);
    ///             tx.put("stock", &(stock + 1));
    ///         }).await?;
    ///         // Charge: says no above the limit, which aborts the saga (and puts the item back).
    ///         ch.transaction(Bank, "charge", move |_, tx| {
    ///             if price > 100 { return Err(format!("{price} is over the limit")); }
    ///             tx.put(&format!("charge/{}", tx.idempotency_key()), &price);
    ///             Ok(price)
    ///         }, |tx, _price: &u64| tx.delete("charge")).await?;
    ///         Ok(price)
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let ok = Program::new(Buy { price: 80 }, &FamilySizes::new()).unwrap();
    /// let outcomes = LocalCluster::new().run(&ok).await;
    /// assert_eq!(outcomes.get("Bank"), Some(&Ok("80".to_string())));
    ///
    /// let aborted = Program::new(Buy { price: 200 }, &FamilySizes::new()).unwrap();
    /// let outcomes = LocalCluster::new().run(&aborted).await;
    /// assert!(matches!(outcomes.get("Shop"), Some(Err(ChoreoError::Aborted { .. }))));
    /// assert_eq!(outcomes, aborted.reference().await);
    /// # }
    /// ```
    #[track_caller]
    pub fn transaction<T, R, I, F, G>(
        &self,
        _role: R,
        name: &str,
        commit: F,
        compensate: G,
    ) -> impl Future<Output = Result<At<T, R>, ChoreoError>> + Send
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Role + Member<C, I>,
        F: FnOnce(Local<'_, R>, &mut Tx<'_>) -> Result<T, String> + Send,
        G: Fn(&mut Tx<'_>, &T) + Send + Sync + 'static,
    {
        let site = self.site();
        let name = name.to_string();
        async move {
            let _op = self.begin();
            self.proceed().await?;
            let (node, session) = match &*self.ctx {
                Ctx::Central { saga, session, .. } => {
                    let me = self.role_id(R::NAME)?;
                    let key =
                        crate::engine::saga::SagaLog::new(*session, me).idempotency_key(&name);
                    return self
                        .central_transaction::<T, R, F, G>(saga, &name, key, commit, compensate);
                }
                Ctx::Projected { node, session } => (node, session),
            };
            if session.participant() != Participant::role(R::NAME) {
                return Ok(At::absent());
            }
            let store = node.saga_store();
            if let Err(e) = session.saga.load(&store) {
                node.count_store_error();
                return Err(self.fail(store_failure(R::NAME, &e.to_string()), &site));
            }
            if let Some(claim) = session.saga.claim(&name) {
                return self.replayed::<T, R, G>(session, &site, &name, claim, compensate);
            }
            match self.observe_local(&site) {
                Verdict::Continue => {}
                Verdict::Halt => std::future::pending::<()>().await,
                Verdict::Panic(message) => {
                    return Err(ChoreoError::Crashed {
                        role: R::NAME.to_string(),
                        site: Box::new(site.clone()),
                        message,
                    });
                }
            }
            if planted() == Some(Bug::CommitAfterNotice) {
                // The planted bug: the commit goes to a worker that runs it a little later,
                // without looking at the session again.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            let step = session.step();
            let key = session.saga.idempotency_key(&name);
            let written = {
                let _serial = node.saga_lock();
                session.saga.commit(
                    &store,
                    &name,
                    || {
                        session
                            .failure()
                            .or_else(|| session.recovered_abort.clone())
                    },
                    |tx| {
                        std::panic::catch_unwind(AssertUnwindSafe(|| commit(Local::new(), tx)))
                            .map_err(|p| panic_message(p.as_ref()))
                    },
                    |value| match value {
                        Ok(Ok(v)) => Some(postcard::to_stdvec(v).map_err(|e| e.to_string())),
                        Ok(Err(reason)) => Some(Err(reason.clone())),
                        Err(_) => None,
                    },
                    key,
                )
            };
            match written {
                Err(e @ ChoreoError::Store { .. }) => {
                    node.count_store_error();
                    Err(self.fail(store_failure(R::NAME, &e.to_string()), &site))
                }
                Err(failure) => {
                    // Refused: the session failed here (perhaps before a restart).
                    session.fail(failure.clone());
                    Err(failure)
                }
                Ok(Committed::No(reason)) => Err(self.fail(aborted(R::NAME, &name, reason), &site)),
                Ok(Committed::Nothing(Err(message))) => {
                    // A crash, like one in `locally`: rescued, or replayed, not yet a failure.
                    session.crashed_in(step);
                    Err(ChoreoError::Crashed {
                        role: R::NAME.to_string(),
                        site: Box::new(site.clone()),
                        message,
                    })
                }
                Ok(Committed::Nothing(Ok(_)) | Committed::Yes(Ok(Err(_)) | Err(_), _)) => Err(self
                    .fail(
                        store_failure(R::NAME, "the commit's outcome and its log disagree"),
                        &site,
                    )),
                Ok(Committed::Yes(Ok(Ok(value)), index)) => {
                    session.saga.register(index, handler(compensate));
                    let verdict = node.observe(Event::Saga {
                        session: session.id,
                        participant: session.participant(),
                        step: SagaStep::Commit { name: &name, index },
                    });
                    self.halt_if(verdict == Verdict::Halt).await;
                    Ok(At::present(value))
                }
            }
        }
    }

    /// A transaction the log already has: its logged value (and its compensation registered
    /// again), or its logged abort. Once the replay has re-registered every logged commit, a
    /// recorded failure applies again.
    fn replayed<T, R, G>(
        &self,
        session: &Session,
        site: &Site,
        name: &str,
        claim: Claim,
        compensate: G,
    ) -> Result<At<T, R>, ChoreoError>
    where
        T: DeserializeOwned + 'static,
        R: Role,
        G: Fn(&mut Tx<'_>, &T) + Send + Sync + 'static,
    {
        match claim {
            Claim::Aborted { reason } => Err(self.fail(aborted(R::NAME, name, reason), site)),
            Claim::Committed { index, result } => {
                let value: T = self.decode(&result, session.me, site)?;
                session.saga.register(index, handler(compensate));
                if session.failure().is_none() {
                    if let Some(failure) = session.saga.caught_up() {
                        session.fail(failure.clone());
                        return Err(failure);
                    }
                }
                Ok(At::present(value))
            }
        }
    }

    fn central_transaction<T, R, F, G>(
        &self,
        saga: &CentralSaga,
        name: &str,
        key: String,
        commit: F,
        compensate: G,
    ) -> Result<At<T, R>, ChoreoError>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Role,
        F: FnOnce(Local<'_, R>, &mut Tx<'_>) -> Result<T, String>,
        G: Fn(&mut Tx<'_>, &T) + Send + Sync + 'static,
    {
        let mut ns = R::NAME.as_bytes().to_vec();
        ns.push(b'/');
        // Once per (session, name), as in a projected run: a second call returns the value
        // the first committed, without running the commit again.
        let logged = lock(&saga.commits)
            .iter()
            .find(|(n, k, _, _)| *n == ns && *k == key)
            .map(|(_, _, _, result)| result.clone());
        if let Some(result) = logged {
            let value = postcard::from_bytes(&result)
                .map_err(|e| store_failure(R::NAME, &e.to_string()))?;
            return Ok(At::present(value));
        }
        let mut tx = Tx::new(&*saga.app, ns.clone(), key.clone());
        let value = commit(Local::new(), &mut tx).map_err(|r| aborted(R::NAME, name, r))?;
        let batch = tx
            .into_batch()
            .map_err(|detail| store_failure(R::NAME, &detail))?;
        saga.app
            .commit(&batch)
            .map_err(|e| store_failure(R::NAME, &e.to_string()))?;
        let result =
            postcard::to_stdvec(&value).map_err(|e| store_failure(R::NAME, &e.to_string()))?;
        lock(&saga.commits).push((ns, key, handler(compensate), result));
        Ok(At::present(value))
    }

    /// A business abort decided at role `R`, outside any commit: where `reason` is
    /// `Some(reason)`, the session fails with [`ChoreoError::Aborted`] (its `transaction` is
    /// `name`), exactly as when a commit says no: the failure notice goes to every
    /// participant durably, each refuses later commits and compensates what it committed,
    /// last first. Where `reason` is `None`, it goes on. Only `R` knows the decision until the
    /// notice reaches the others, who learn it at their next wait (at the latest at the
    /// session's agreed end).
    ///
    /// ```
    /// use rehearsal::{Choreo, ChoreoError, Choreography, FamilySizes, LocalCluster, Program, Roles, roles};
    ///
    /// roles!(Shop, Customer);
    ///
    /// #[derive(Clone)]
    /// struct Order { cancel: bool }
    ///
    /// impl Choreography for Order {
    ///     type Census = Roles![Shop, Customer];
    ///     type Output = ();
    ///     async fn run(self, ch: &Choreo<Self::Census>) -> Result<(), ChoreoError> {
    ///         ch.transaction(Shop, "reserve", |_, tx| {
    ///             let stock = tx.get_or("stock", 3u64);
    ///             tx.put("stock", &(stock - 1));
    ///             Ok(())
    ///         }, |tx, _: &()| {
    ///             let stock = tx.get_or("stock", 3u64);
    ///             tx.put("stock", &(stock + 1));
    ///         }).await?;
    ///         // The customer changes their mind: the reservation is compensated.
    ///         let cancel = self.cancel;
    ///         let why = ch.locally(Customer, |_| cancel.then(|| "changed my mind".to_string())).await?;
    ///         ch.abort(Customer, "cancel", why).await
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let kept = Program::new(Order { cancel: false }, &FamilySizes::new()).unwrap();
    /// assert!(LocalCluster::new().run(&kept).await.all_ok());
    ///
    /// let cancelled = Program::new(Order { cancel: true }, &FamilySizes::new()).unwrap();
    /// let outcomes = LocalCluster::new().run(&cancelled).await;
    /// assert!(matches!(outcomes.get("Shop"),
    ///     Some(Err(ChoreoError::Aborted { transaction, .. })) if transaction == "cancel"));
    /// assert_eq!(outcomes, cancelled.reference().await);
    /// # }
    /// ```
    #[track_caller]
    pub fn abort<R, I>(
        &self,
        _role: R,
        name: &str,
        reason: At<Option<String>, R>,
    ) -> impl Future<Output = Result<(), ChoreoError>> + Send
    where
        R: Role + Member<C, I>,
    {
        let site = self.site();
        let name = name.to_string();
        async move {
            let _op = self.begin();
            self.proceed().await?;
            if !self.plays(R::NAME) {
                return Ok(());
            }
            let verdict = self.observe_local(&site);
            self.obey(verdict, &site).await?;
            match self.present(&reason, &site)? {
                None => Ok(()),
                Some(reason) => Err(self.fail(aborted(R::NAME, &name, reason.clone()), &site)),
            }
        }
    }
}

fn aborted(role: &str, name: &str, reason: String) -> ChoreoError {
    ChoreoError::Aborted {
        role: role.to_string(),
        transaction: name.to_string(),
        reason,
    }
}

fn store_failure(role: &str, detail: &str) -> ChoreoError {
    ChoreoError::Store {
        role: role.to_string(),
        detail: detail.to_string(),
    }
}

/// One step of the compensation phase: marks the saga failed and announces it the first time,
/// then compensates the next commit due. `Ok(None)` once nothing is left; otherwise the
/// observer's verdict on the step.
fn compensation_step(node: &Node, session: &Session) -> Result<Option<Verdict>, ChoreoError> {
    let store = node.saga_store();
    let role = session.participant().to_string();
    session
        .saga
        .load(&store)
        .map_err(|e| store_failure(&role, &e.to_string()))?;
    let Some(failure) = session.failure() else {
        return Ok(None);
    };
    session
        .saga
        .mark_failed(&failure)
        .map_err(|e| store_failure(&role, &e.to_string()))?;
    if let Some(pending) = session.saga.announce() {
        return Ok(Some(node.observe(Event::Saga {
            session: session.id,
            participant: session.participant(),
            step: SagaStep::Abort {
                error: &failure,
                pending,
            },
        })));
    }
    let written = {
        let _serial = node.saga_lock();
        session.saga.compensate_next(&store)
    };
    match written {
        None => Ok(None),
        Some(Err(ChoreoError::Store { detail, .. })) => {
            node.count_store_error();
            Err(store_failure(&role, &detail))
        }
        Some(Err(e)) => Err(e),
        Some(Ok(w)) => Ok(Some(node.observe(Event::Saga {
            session: session.id,
            participant: session.participant(),
            step: SagaStep::Compensate {
                name: &w.name,
                index: w.index,
            },
        }))),
    }
}

/// The session failed here: compensate every commit of this participant not compensated yet,
/// last first. An observer may halt the participant after any step (its process dies there;
/// the restarted participant resumes where it stopped).
pub(crate) async fn compensate(node: &Node, session: &Session) -> Result<(), ChoreoError> {
    while let Some(verdict) = compensation_step(node, session)? {
        if verdict == Verdict::Halt {
            std::future::pending::<()>().await;
        }
    }
    Ok(())
}

/// [`compensate`] where the session ends without a task to halt (a crash that escaped every
/// checkpoint, failing the session as it closes).
pub(crate) fn compensate_now(node: &Node, session: &Session) -> Result<(), ChoreoError> {
    while compensation_step(node, session)?.is_some() {}
    Ok(())
}
