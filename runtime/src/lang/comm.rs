//! Moving values between roles: `comm` (one role to another), `broadcast` (one role to every
//! participant, as a plain value they may branch on: knowledge of choice) and `multicast` (one
//! role to a set of roles). Each sends at the sender, receives at the receivers and is skipped
//! elsewhere; the reference run passes the value through the wire format instead.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ChoreoError;
use crate::ident::ParticipantId;
use crate::lang::census::{Member, RoleSet, Subset};
use crate::lang::choreo::Choreo;
use crate::lang::located::{At, Shared};
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
        async move {
            let _op = self.begin();
            self.proceed().await?;
            let (a, b) = (self.role_id(A::NAME)?, self.role_id(B::NAME)?);
            match self.me() {
                None => {
                    let v = self.present(value, &site)?;
                    self.round_trip(v, a, &site).map(At::present)
                }
                Some(me) if me == a && me == b => {
                    let v = self.present(value, &site)?;
                    self.round_trip(v, a, &site).map(At::present)
                }
                Some(me) if me == a => {
                    let bytes = self.encode(self.present(value, &site)?, &site)?;
                    let verdict = self.send_bytes(b, &site, bytes);
                    self.obey(verdict, &site).await?;
                    Ok(At::absent())
                }
                Some(me) if me == b => self.receive(a, &site).await.map(At::present),
                Some(_) => Ok(At::absent()),
            }
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
        async move {
            let _op = self.begin();
            self.proceed().await?;
            let a = self.role_id(A::NAME)?;
            match self.me() {
                Some(me) if me != a => self.receive(a, &site).await,
                me => {
                    // Every role, the sender included, gets the value as the wire carries it.
                    let bytes = self.encode(self.present(&value, &site)?, &site)?;
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
        async move {
            let _op = self.begin();
            self.proceed().await?;
            let a = self.role_id(A::NAME)?;
            let to: Vec<ParticipantId> = self
                .ctx
                .census()
                .ids_of_set::<S>()
                .into_iter()
                .filter(|p| self.scope.contains(p))
                .collect();
            match self.me() {
                None => self
                    .round_trip(self.present(&value, &site)?, a, &site)
                    .map(Shared::present),
                Some(me) if me == a => {
                    let bytes = self.encode(self.present(&value, &site)?, &site)?;
                    let mut verdict = Verdict::Continue;
                    for &p in to.iter().filter(|&&p| p != a) {
                        verdict = verdict.and(self.send_bytes(p, &site, bytes.clone()));
                    }
                    self.obey(verdict, &site).await?;
                    if to.contains(&me) {
                        self.decode(&bytes, a, &site).map(Shared::present)
                    } else {
                        Ok(Shared::absent())
                    }
                }
                Some(me) if to.contains(&me) => self.receive(a, &site).await.map(Shared::present),
                Some(_) => Ok(Shared::absent()),
            }
        }
    }
}
