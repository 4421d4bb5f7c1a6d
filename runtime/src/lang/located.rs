//! Located values: data that exists only at some roles.
//!
//! [`At<T, R>`] exists only at role `R`; [`Shared<T, S>`] at every role of set `S` (the result
//! of a multicast or an enclave); [`Faceted<T, F>`] holds one value per member of family `F`.
//! None of them hands out its value directly: code reads it inside
//! [`Choreo::locally`](crate::Choreo::locally) through a [`Local<R>`], whose type says which
//! role is running, so reading a value at the wrong role does not compile.
//!
//! Outcomes are compared per participant by serializing the choreography's output *as seen
//! by* that participant: while a viewer is set (see [`view_as`]), located values of other roles
//! serialize as absent. That is how a central reference run, which holds every role's values,
//! is compared with the projected runs, which hold one role's values each.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ident::Participant;
use crate::lang::census::{Member, RoleSet};
use crate::lang::role::{Family, Role};

/// A located type: made from the value its operator produced here, or from none.
pub(crate) trait Place<T> {
    /// The located value: present with `Some`, absent with `None`.
    fn place(value: Option<T>) -> Self;
}

impl<T, R: Role> Place<T> for At<T, R> {
    fn place(value: Option<T>) -> Self {
        At {
            value,
            _role: PhantomData,
        }
    }
}

impl<T, S: RoleSet> Place<T> for Shared<T, S> {
    fn place(value: Option<T>) -> Self {
        Shared {
            value,
            _set: PhantomData,
        }
    }
}

pin_project_lite::pin_project! {
    /// An operator's future whose result, `Some` where it exists, becomes the located value
    /// `P` (an [`At`] or a [`Shared`]).
    ///
    /// Operators name their roles at run time in one body per value type, and only this thin
    /// wrapper carries the roles' types: a choreography of many hops between many roles then
    /// compiles one body per value type, not one per pair of roles.
    pub(crate) struct Placed<F, P> {
        #[pin]
        inner: F,
        _place: PhantomData<fn() -> P>,
    }
}

impl<F, P> Placed<F, P> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: F) -> Self {
        Placed {
            inner,
            _place: PhantomData,
        }
    }
}

impl<F, T, E, P> Future for Placed<F, P>
where
    F: Future<Output = Result<Option<T>, E>>,
    P: Place<T>,
{
    type Output = Result<P, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Plain control flow, no combinators: this is compiled once per operator call site.
        match self.project().inner.poll(cx) {
            Poll::Ready(Ok(value)) => Poll::Ready(Ok(P::place(value))),
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A value of type `T` that exists only at role `R`.
///
/// Made by [`Choreo::locally`](crate::Choreo::locally) and
/// [`Choreo::comm`](crate::Choreo::comm); read with [`Local::get`] inside `locally` at `R`.
pub struct At<T, R: Role> {
    value: Option<T>,
    _role: PhantomData<fn() -> R>,
}

impl<T, R: Role> At<T, R> {
    pub(crate) fn present(value: T) -> Self {
        At {
            value: Some(value),
            _role: PhantomData,
        }
    }

    pub(crate) fn absent() -> Self {
        At {
            value: None,
            _role: PhantomData,
        }
    }

    pub(crate) fn into_option(self) -> Option<T> {
        self.value
    }

    pub(crate) fn as_option(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// The value as a participant's outcome shows it: `Some` in the outcome of role `R`,
    /// `None` in every other participant's (see
    /// [`Outcomes::decode`](crate::Outcomes::decode)). For harnesses and oracles reading
    /// outcomes; choreography code reads located values with [`Local::get`] inside
    /// `locally`, where the compiler checks the role.
    pub fn view(&self) -> Option<&T> {
        self.value.as_ref()
    }
}

impl<T: Clone, R: Role> Clone for At<T, R> {
    fn clone(&self) -> Self {
        At {
            value: self.value.clone(),
            _role: PhantomData,
        }
    }
}

impl<T: fmt::Debug, R: Role> fmt::Debug for At<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "At<{}>({v:?})", R::NAME),
            None => write!(f, "At<{}>(elsewhere)", R::NAME),
        }
    }
}

impl<T: Serialize, R: Role> Serialize for At<T, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (
            &self.value,
            visible(|p| p.role == R::NAME && p.index.is_none()),
        ) {
            (Some(v), true) => s.serialize_some(v),
            _ => s.serialize_none(),
        }
    }
}

/// Reads what [`Serialize`] wrote without a viewer (used by loop snapshots): absent stays
/// absent, present stays present.
impl<'de, T: Deserialize<'de>, R: Role> Deserialize<'de> for At<T, R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(At {
            value: Option::<T>::deserialize(d)?,
            _role: PhantomData,
        })
    }
}

/// A value of type `T` that exists at every role of set `S` (a multicast or enclave result).
pub struct Shared<T, S: RoleSet> {
    value: Option<T>,
    _set: PhantomData<fn() -> S>,
}

impl<T, S: RoleSet> Shared<T, S> {
    pub(crate) fn present(value: T) -> Self {
        Shared {
            value: Some(value),
            _set: PhantomData,
        }
    }

    pub(crate) fn absent() -> Self {
        Shared {
            value: None,
            _set: PhantomData,
        }
    }

    /// The value as a participant's outcome shows it: `Some` in the outcomes of the roles of
    /// `S`, `None` elsewhere. For harnesses and oracles reading outcomes (see
    /// [`At::view`]).
    pub fn view(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// Takes a value located at a member of `S` out of a shared value. An enclave's result
    /// often carries values located at its members, which live on at those roles in the
    /// enclosing choreography; at roles outside `S` the result is absent, as it should be.
    ///
    /// ```
    /// # use rehearsal::{At, Choreo, ChoreoError, Choreography, Roles, roles};
    /// # roles!(Gateway, Worker, Player);
    /// struct Play;
    /// impl Choreography for Play {
    ///     type Census = Roles![Worker, Player];
    ///     type Output = (At<u32, Worker>, At<bool, Player>);
    ///     async fn run(self, ch: &Choreo<Self::Census>) -> Result<Self::Output, ChoreoError> {
    ///         let room = ch.locally(Worker, |_| 7u32).await?;
    ///         let happy = ch.locally(Player, |_| true).await?;
    ///         Ok((room, happy))
    ///     }
    /// }
    /// # #[derive(Clone)] struct Game;
    /// # impl Choreography for Game {
    /// #     type Census = Roles![Gateway, Worker, Player];
    /// #     type Output = ();
    /// #     async fn run(self, ch: &Choreo<Self::Census>) -> Result<(), ChoreoError> {
    /// let played = ch.enclave(Play).await?;
    /// let room: At<u32, Worker> = played.clone().into_located(|(room, _)| room);
    /// let happy: At<bool, Player> = played.into_located(|(_, happy)| happy);
    /// # let _ = (room, happy); Ok(()) } }
    /// ```
    pub fn into_located<U, R, I>(self, pick: impl FnOnce(T) -> At<U, R>) -> At<U, R>
    where
        R: Role + Member<S, I>,
    {
        match self.value {
            Some(value) => pick(value),
            None => At::absent(),
        }
    }
}

impl<T: Clone, S: RoleSet> Clone for Shared<T, S> {
    fn clone(&self) -> Self {
        Shared {
            value: self.value.clone(),
            _set: PhantomData,
        }
    }
}

impl<T: fmt::Debug, S: RoleSet> fmt::Debug for Shared<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "Shared({v:?})"),
            None => f.write_str("Shared(elsewhere)"),
        }
    }
}

impl<T: Serialize, S: RoleSet> Serialize for Shared<T, S> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        let entries = S::entry_list();
        let seen = visible(|p| {
            entries
                .iter()
                .any(|(n, fam)| p.role == *n && p.index.is_some() == *fam)
        });
        match (&self.value, seen) {
            (Some(v), true) => s.serialize_some(v),
            _ => s.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>, S: RoleSet> Deserialize<'de> for Shared<T, S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Shared {
            value: Option::<T>::deserialize(d)?,
            _set: PhantomData,
        })
    }
}

/// One value of type `T` per member of family `F`; each member holds only its own.
pub struct Faceted<T, F: Family> {
    values: BTreeMap<u32, T>,
    _family: PhantomData<fn() -> F>,
}

impl<T, F: Family> Faceted<T, F> {
    pub(crate) fn from_map(values: BTreeMap<u32, T>) -> Self {
        Faceted {
            values,
            _family: PhantomData,
        }
    }

    pub(crate) fn get(&self, index: u32) -> Option<&T> {
        self.values.get(&index)
    }

    /// The facets as a participant's outcome shows them: member `F[i]`'s outcome holds its
    /// own facet `(i, value)`, other participants' none. For harnesses and oracles reading
    /// outcomes (see [`At::view`]).
    pub fn view(&self) -> impl Iterator<Item = (u32, &T)> {
        self.values.iter().map(|(i, v)| (*i, v))
    }

    pub(crate) fn take(&mut self, index: u32) -> Option<T> {
        self.values.remove(&index)
    }
}

impl<T: Clone, F: Family> Clone for Faceted<T, F> {
    fn clone(&self) -> Self {
        Faceted::from_map(self.values.clone())
    }
}

impl<T: fmt::Debug, F: Family> fmt::Debug for Faceted<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Faceted<{}>{:?}", F::NAME, self.values)
    }
}

impl<T: Serialize, F: Family> Serialize for Faceted<T, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let shown: Vec<(&u32, &T)> = self
            .values
            .iter()
            .filter(|(i, _)| visible(|p| p.role == F::NAME && p.index == Some(**i)))
            .collect();
        let mut map = s.serialize_map(Some(shown.len()))?;
        for (i, v) in shown {
            map.serialize_entry(i, v)?;
        }
        map.end()
    }
}

impl<'de, T: Deserialize<'de>, F: Family> Deserialize<'de> for Faceted<T, F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Faceted::from_map(BTreeMap::<u32, T>::deserialize(d)?))
    }
}

/// Read access to the values located at role `R`, handed to the closure of
/// [`Choreo::locally`](crate::Choreo::locally). Its type is the proof that `R` is running.
pub struct Local<'a, R: Role> {
    _role: PhantomData<fn() -> R>,
    _scope: PhantomData<&'a ()>,
}

impl<R: Role> Local<'_, R> {
    pub(crate) fn new() -> Self {
        Local {
            _role: PhantomData,
            _scope: PhantomData,
        }
    }

    /// Reads a value located at `R`.
    pub fn get<'v, T>(&self, value: &'v At<T, R>) -> &'v T {
        value
            .as_option()
            .expect("rehearsal invariant: a value located at the running role is present")
    }

    /// Takes a value located at `R` out of its wrapper.
    pub fn take<T>(&self, value: At<T, R>) -> T {
        value
            .into_option()
            .expect("rehearsal invariant: a value located at the running role is present")
    }

    /// Reads a value shared by a set of roles that includes `R`.
    pub fn get_shared<'v, T, S: RoleSet, I>(&self, value: &'v Shared<T, S>) -> &'v T
    where
        R: Member<S, I>,
    {
        value
            .value
            .as_ref()
            .expect("rehearsal invariant: a value shared with the running role is present")
    }
}

/// Read access for one member of family `F`, handed to
/// [`Choreo::locally_each`](crate::Choreo::locally_each).
pub struct LocalMember<'a, F: Family> {
    index: u32,
    size: u32,
    _family: PhantomData<fn() -> F>,
    _scope: PhantomData<&'a ()>,
}

impl<F: Family> LocalMember<'_, F> {
    pub(crate) fn new(index: u32, size: u32) -> Self {
        LocalMember {
            index,
            size,
            _family: PhantomData,
            _scope: PhantomData,
        }
    }

    /// This member's index `i` in `F[i]`.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The number of members of `F` in this session.
    pub fn family_size(&self) -> u32 {
        self.size
    }

    /// Reads this member's own facet of a faceted value.
    pub fn get<'v, T>(&self, value: &'v Faceted<T, F>) -> &'v T {
        value
            .get(self.index)
            .expect("rehearsal invariant: a member's own facet is present")
    }
}

thread_local! {
    static VIEWER: Cell<Option<Participant>> = const { Cell::new(None) };
}

fn visible(test: impl Fn(&Participant) -> bool) -> bool {
    VIEWER.with(|v| v.get().is_none_or(|p| test(&p)))
}

/// Runs `f` with `viewer` as the participant whose view located values serialize: values
/// located elsewhere serialize as absent. Used to compare outcomes per participant.
pub fn view_as<T>(viewer: Participant, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Participant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            VIEWER.with(|v| v.set(self.0));
        }
    }
    let _restore = Restore(VIEWER.with(|v| v.replace(Some(viewer))));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::roles!(Alice, Bob);
    crate::families!(Worker);

    #[test]
    fn a_viewer_sees_only_its_own_located_values() {
        let pair = (At::<u32, Alice>::present(1), At::<u32, Bob>::present(2));
        let as_alice = view_as(Participant::role("Alice"), || {
            serde_json::to_string(&pair).unwrap()
        });
        assert_eq!(as_alice, "[1,null]");
        assert_eq!(serde_json::to_string(&pair).unwrap(), "[1,2]");
    }

    #[test]
    fn located_values_round_trip_through_the_wire_format() {
        let pair = (At::<u32, Alice>::present(1), At::<u32, Bob>::absent());
        let bytes = postcard::to_stdvec(&pair).unwrap();
        let back: (At<u32, Alice>, At<u32, Bob>) = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.0.as_option(), Some(&1));
        assert_eq!(back.1.as_option(), None);
    }

    #[test]
    fn a_member_sees_only_its_own_facet() {
        let f = Faceted::<&str, Worker>::from_map([(0, "a"), (1, "b")].into_iter().collect());
        let seen = view_as(Participant::member("Worker", 1), || {
            serde_json::to_string(&f).unwrap()
        });
        assert_eq!(seen, r#"{"1":"b"}"#);
    }
}
