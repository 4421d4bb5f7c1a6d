//! Operators over role families (census polymorphism): a family's size, every member computing
//! on its own (`locally_each`), one role sending an element to each member (`scatter`), and
//! every member sending one to a role (`gather`).

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ChoreoError;
use crate::ident::{Participant, ParticipantId};
use crate::lang::census::{Member, RoleSet};
use crate::lang::choreo::Choreo;
use crate::lang::located::{At, Faceted, LocalMember};
use crate::lang::role::{Family, Role};
use crate::observer::Verdict;

impl<C: RoleSet> Choreo<C> {
    /// Number of members of family `F` taking part here.
    pub fn family_size<F: Family + Member<C, I>, I>(&self, _family: F) -> u32 {
        self.family_ids::<F>().len() as u32
    }

    pub(crate) fn family_ids<F: Family>(&self) -> Vec<ParticipantId> {
        self.ctx
            .census()
            .family_ids(F::NAME)
            .into_iter()
            .filter(|p| self.scope.contains(p))
            .collect()
    }

    pub(crate) fn my_index<F: Family>(&self) -> Option<u32> {
        let me = self.me()?;
        let p = self.ctx.census().participant(me)?;
        (p.role == F::NAME).then_some(p.index).flatten()
    }

    /// Every member of family `F` runs `f` on its own; the results form a faceted value.
    #[track_caller]
    pub fn locally_each<T, F, I, G>(
        &self,
        _family: F,
        f: G,
    ) -> impl Future<Output = Result<Faceted<T, F>, ChoreoError>> + Send
    where
        T: Send,
        F: Family + Member<C, I>,
        G: Fn(LocalMember<'_, F>) -> T + Send + Sync,
    {
        let site = self.site();
        async move {
            let _op = self.begin();
            let ids = self.family_ids::<F>();
            let size = ids.len() as u32;
            let census = self.ctx.census();
            let indices: Vec<u32> = match self.me() {
                None => ids
                    .iter()
                    .filter_map(|&p| census.participant(p).and_then(|p| p.index))
                    .collect(),
                Some(_) => self.my_index::<F>().into_iter().collect(),
            };
            let mut out = std::collections::BTreeMap::new();
            for i in indices {
                let name = Participant::member(F::NAME, i).to_string();
                let v = self
                    .run_local(name, &site, || f(LocalMember::new(i, size)))
                    .await?;
                out.insert(i, v);
            }
            Ok(Faceted::from_map(out))
        }
    }

    /// `A` sends element `i` of its vector to `F[i]`. The vector must have one element per
    /// member of `F`.
    #[track_caller]
    pub fn scatter<T, A, F, IA, IF>(
        &self,
        _from: A,
        _to: F,
        values: At<Vec<T>, A>,
    ) -> impl Future<Output = Result<Faceted<T, F>, ChoreoError>> + Send
    where
        T: Serialize + DeserializeOwned + Send,
        A: Role + Member<C, IA>,
        F: Family + Member<C, IF>,
    {
        let site = self.site();
        async move {
            let _op = self.begin();
            self.proceed().await?;
            let a = self.role_id(A::NAME)?;
            let ids = self.family_ids::<F>();
            let me = self.me();
            if me.is_none() || me == Some(a) {
                let v = values.into_option().ok_or_else(|| ChoreoError::Census {
                    detail: format!("scatter values missing at {}", A::NAME),
                })?;
                if v.len() != ids.len() {
                    let err = ChoreoError::Census {
                        detail: format!(
                            "scatter at {site}: {} values for family {} of {} members; expected \
                             one value per member",
                            v.len(),
                            F::NAME,
                            ids.len()
                        ),
                    };
                    return Err(self.fail(err, &site));
                }
                let mut out = std::collections::BTreeMap::new();
                let mut verdict = Verdict::Continue;
                for (i, (value, &p)) in v.into_iter().zip(&ids).enumerate() {
                    if me.is_some() {
                        let bytes = self.encode(&value, &site)?;
                        verdict = verdict.and(self.send_bytes(p, &site, bytes));
                    } else {
                        out.insert(i as u32, self.round_trip(&value, a, &site)?);
                    }
                }
                self.obey(verdict, &site).await?;
                return Ok(Faceted::from_map(out));
            }
            match self.my_index::<F>() {
                Some(i) => {
                    let v = self.receive(a, &site).await?;
                    Ok(Faceted::from_map([(i, v)].into_iter().collect()))
                }
                None => Ok(Faceted::from_map(Default::default())),
            }
        }
    }

    /// Every member `F[i]` sends its facet to `A`, which gets them as a vector in index order.
    #[track_caller]
    pub fn gather<T, F, A, IF, IA>(
        &self,
        _from: F,
        _to: A,
        values: Faceted<T, F>,
    ) -> impl Future<Output = Result<At<Vec<T>, A>, ChoreoError>> + Send
    where
        T: Serialize + DeserializeOwned + Send,
        F: Family + Member<C, IF>,
        A: Role + Member<C, IA>,
    {
        let site = self.site();
        async move {
            let _op = self.begin();
            self.proceed().await?;
            let a = self.role_id(A::NAME)?;
            let ids = self.family_ids::<F>();
            let mut values = values;
            match self.me() {
                None => {
                    let mut out = Vec::with_capacity(ids.len());
                    for i in 0..ids.len() as u32 {
                        let v = values.take(i).ok_or_else(|| ChoreoError::Census {
                            detail: format!("facet {}[{i}] missing in the reference run", F::NAME),
                        })?;
                        out.push(self.round_trip(&v, a, &site)?);
                    }
                    Ok(At::present(out))
                }
                Some(me) if me == a => {
                    let mut out = Vec::with_capacity(ids.len());
                    for &p in &ids {
                        out.push(self.receive(p, &site).await?);
                    }
                    Ok(At::present(out))
                }
                Some(_) => {
                    if let Some(i) = self.my_index::<F>() {
                        let v = values.take(i).ok_or_else(|| ChoreoError::Census {
                            detail: format!("facet {}[{i}] missing at its member", F::NAME),
                        })?;
                        let bytes = self.encode(&v, &site)?;
                        let verdict = self.send_bytes(a, &site, bytes);
                        self.obey(verdict, &site).await?;
                    }
                    Ok(At::absent())
                }
            }
        }
    }
}
