//! Calls to the outside world: `side_effect`, `random` and `now` run at one role and log their
//! result in the journal before it is used, so a replay after a crash returns the logged result
//! instead of calling out again (and a replay that asks for a different effect at that point is
//! reported as nondeterminism).

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ChoreoError;
use crate::ident::{Participant, Site};
use crate::lang::census::{Member, RoleSet};
use crate::lang::choreo::{Choreo, Ctx};
use crate::lang::located::{At, Local};
use crate::lang::role::Role;

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
            self.logged::<T, R>("side-effect", &site, || effect(Local::new()))
                .await
        }
    }

    /// A random number at role `R`, logged so a replay sees the same one.
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
            self.logged::<u64, R>("random", &site, rand::random::<u64>)
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
            self.logged::<std::time::SystemTime, R>("now", &site, std::time::SystemTime::now)
                .await
        }
    }

    /// Runs `f` at role `R` through the effect log: the first run logs its result durably
    /// before it is used; a replay returns the logged result (and checks it is the same kind
    /// of effect at the same site).
    async fn logged<T, R: Role>(
        &self,
        kind: &str,
        site: &Site,
        f: impl FnOnce() -> T + Send,
    ) -> Result<At<T, R>, ChoreoError>
    where
        T: Serialize + DeserializeOwned + Send,
    {
        let _op = self.begin();
        self.proceed().await?;
        let (node, session) = match &*self.ctx {
            Ctx::Central { .. } => {
                return self
                    .run_local(R::NAME.to_string(), site, f)
                    .await
                    .map(At::present);
            }
            Ctx::Projected { node, session } => (node, session),
        };
        if session.participant() != Participant::role(R::NAME) {
            return Ok(At::absent());
        }
        match session.replay_effect(kind, site) {
            Ok(Some(bytes)) => {
                let _ = self.observe_local(site);
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
        let value = self.run_local(R::NAME.to_string(), site, f).await?;
        let bytes = self.encode(&value, site)?;
        if let Err(e) = session.log_effect(kind, site, &bytes) {
            node.count_store_error();
            let err = ChoreoError::Store {
                role: R::NAME.to_string(),
                detail: e.to_string(),
            };
            return Err(self.fail(err, site));
        }
        Ok(At::present(value))
    }
}
