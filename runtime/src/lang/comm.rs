//! Moving values between roles: `comm` (one role to another), `broadcast` (one role to every
//! participant, as a plain value they may branch on: knowledge of choice) and `multicast` (one
//! role to a set of roles). Each sends at the sender, receives at the receivers and is skipped
//! elsewhere; the reference run passes the value through the wire format instead.
//!
//! Each operator is a thin generic front, which checks the roles' types and names them, over
//! one body per value type (`comm_at`, `broadcast_at`, `multicast_to`) that takes the roles by
//! name: a chain of a hundred hops between a hundred roles compiles one body, not a hundred.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ChoreoError;
use crate::ident::{ParticipantId, Site};
use crate::lang::census::{Member, RoleSet, Subset};
use crate::lang::choreo::Choreo;
use crate::lang::located::{At, Placed, Shared};
use crate::lang::role::Role;
use crate::observer::Verdict;

impl<C: RoleSet> Choreo<C> {
    /// Sends a value located at `A` to `B`; the result is located at `B`.
    #[track_caller]
    pub fn comm<T, A, B, IA, IB>(
        &self,
        _from: A,
        _to: B,
        value: &At<T, A>,
    ) -> impl Future<Output = Result<At<T, B>, ChoreoError>> + Send
    where
        T: Serialize + DeserializeOwned + Send + Sync,
        A: Role + Member<C, IA>,
        B: Role + Member<C, IB>,
    {
        let site = self.site();
        Placed::new(self.comm_at(A::NAME, B::NAME, value.as_option(), site))
    }

    /// The body of [`comm`](Self::comm): `value` (present at `from`) sent from `from` to `to`;
    /// `Some` at `to` (and in the reference run).
    async fn comm_at<T>(
        &self,
        from: &'static str,
        to: &'static str,
        value: Option<&T>,
        site: Site,
    ) -> Result<Option<T>, ChoreoError>
    where
        T: Serialize + DeserializeOwned + Send + Sync,
    {
        let _op = self.begin();
        self.proceed().await?;
        let (a, b) = (self.role_id(from)?, self.role_id(to)?);
        match self.me() {
            // The reference run, and a role sending to itself: the value through the wire
            // format.
            None => self
                .round_trip(self.present_at(value, from, &site)?, a, &site)
                .map(Some),
            Some(me) if me == a && me == b => self
                .round_trip(self.present_at(value, from, &site)?, a, &site)
                .map(Some),
            Some(me) if me == a => {
                let bytes = self.encode(self.present_at(value, from, &site)?, &site)?;
                let verdict = self.send_bytes(b, &site, bytes);
                self.obey(verdict, &site).await?;
                Ok(None)
            }
            Some(me) if me == b => self.receive(a, &site).await.map(Some),
            Some(_) => Ok(None),
        }
    }

    /// Sends a value located at `A` to every participant of this (sub-)choreography; every
    /// participant gets it as a plain value and may branch on it (knowledge of choice).
    #[track_caller]
    pub fn broadcast<T, A, IA>(
        &self,
        _from: A,
        value: At<T, A>,
    ) -> impl Future<Output = Result<T, ChoreoError>> + Send
    where
        T: Serialize + DeserializeOwned + Send,
        A: Role + Member<C, IA>,
    {
        let site = self.site();
        self.broadcast_at(A::NAME, value.into_option(), site)
    }

    /// The body of [`broadcast`](Self::broadcast): `value` (present at `from`) sent to every
    /// participant in scope.
    async fn broadcast_at<T>(
        &self,
        from: &'static str,
        value: Option<T>,
        site: Site,
    ) -> Result<T, ChoreoError>
    where
        T: Serialize + DeserializeOwned + Send,
    {
        let _op = self.begin();
        self.proceed().await?;
        let a = self.role_id(from)?;
        match self.me() {
            Some(me) if me != a => self.receive(a, &site).await,
            me => {
                // Every role, the sender included, gets the value as the wire carries it.
                let bytes = self.encode(self.present_at(value.as_ref(), from, &site)?, &site)?;
                if me.is_some() {
                    let mut verdict = Verdict::Continue;
                    for &p in self.scope.iter().filter(|&&p| p != a) {
                        verdict = verdict.and(self.send_bytes(p, &site, bytes.clone()));
                    }
                    self.obey(verdict, &site).await?;
                }
                self.decode(&bytes, a, &site)
            }
        }
    }

    /// Sends a value located at `A` to the roles of set `S` only; the result exists at them.
    #[track_caller]
    pub fn multicast<S, T, A, IA, IS>(
        &self,
        _from: A,
        value: At<T, A>,
    ) -> impl Future<Output = Result<Shared<T, S>, ChoreoError>> + Send
    where
        S: RoleSet + Subset<C, IS>,
        T: Serialize + DeserializeOwned + Send,
        A: Role + Member<C, IA>,
    {
        let site = self.site();
        let to = self.ctx.census().ids_of_set::<S>();
        Placed::new(self.multicast_to(A::NAME, to, value.into_option(), site))
    }

    /// The body of [`multicast`](Self::multicast): `value` (present at `from`) sent to the
    /// participants `to` that are in scope; `Some` at them (and in the reference run).
    async fn multicast_to<T>(
        &self,
        from: &'static str,
        to: Vec<ParticipantId>,
        value: Option<T>,
        site: Site,
    ) -> Result<Option<T>, ChoreoError>
    where
        T: Serialize + DeserializeOwned + Send,
    {
        let _op = self.begin();
        self.proceed().await?;
        let a = self.role_id(from)?;
        let to: Vec<ParticipantId> = to.into_iter().filter(|p| self.scope.contains(p)).collect();
        match self.me() {
            None => self
                .round_trip(self.present_at(value.as_ref(), from, &site)?, a, &site)
                .map(Some),
            Some(me) if me == a => {
                let bytes = self.encode(self.present_at(value.as_ref(), from, &site)?, &site)?;
                let mut verdict = Verdict::Continue;
                for &p in to.iter().filter(|&&p| p != a) {
                    verdict = verdict.and(self.send_bytes(p, &site, bytes.clone()));
                }
                self.obey(verdict, &site).await?;
                if to.contains(&me) {
                    self.decode(&bytes, a, &site).map(Some)
                } else {
                    Ok(None)
                }
            }
            Some(me) if to.contains(&me) => self.receive(a, &site).await.map(Some),
            Some(_) => Ok(None),
        }
    }
}
