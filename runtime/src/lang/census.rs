//! Censuses: the set of roles a choreography runs over, at the type level and at run time.
//!
//! At the type level a census is a list built with [`Roles!`](crate::Roles):
//! `Roles![Client, Server]`. Operators require their roles to be [`Member`]s of the census and
//! sub-choreographies to be a [`Subset`], so using a role outside the census is a compile
//! error. At run time a [`Census`] expands every family to its members and numbers the
//! participants; that numbering is what frames carry.

use std::marker::PhantomData;

use crate::error::ChoreoError;
use crate::ident::{Census, FamilySizes, Participant, ParticipantId};
use crate::lang::role::CensusEntry;

/// The empty census.
pub struct Nil;

/// A census with head entry `H` and the rest `T`. Write censuses with [`Roles!`](crate::Roles).
pub struct Cons<H, T>(PhantomData<fn() -> (H, T)>);

/// A type-level list of roles and families.
pub trait RoleSet: Send + Sync + 'static {
    /// Appends `(name, is_family)` for each entry, in declaration order.
    fn entries(out: &mut Vec<(&'static str, bool)>);

    /// The entries of this set, in declaration order.
    fn entry_list() -> Vec<(&'static str, bool)> {
        let mut out = Vec::new();
        Self::entries(&mut out);
        out
    }
}

impl RoleSet for Nil {
    fn entries(_: &mut Vec<(&'static str, bool)>) {}
}

impl<H: CensusEntry, T: RoleSet> RoleSet for Cons<H, T> {
    fn entries(out: &mut Vec<(&'static str, bool)>) {
        out.push((H::NAME, H::FAMILY));
        T::entries(out);
    }
}

/// Index marker: the role is the head of the list.
pub struct Here;
/// Index marker: the role is somewhere in the tail of the list.
pub struct There<I>(PhantomData<I>);

/// `Self` is a role (or family) of census `S`. The index `I` is inferred; never name it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a role of this choreography's census",
    label = "this role is not in the census",
    note = "add the role to the census (`Roles![..]`) or use an enclave that includes it"
)]
pub trait Member<S, I> {}

impl<H, T> Member<Cons<H, T>, Here> for H {}
impl<X, H, T, I> Member<Cons<H, T>, There<I>> for X where X: Member<T, I> {}

/// Every role of `Self` is in census `S`. The indices `I` are inferred; never name them.
#[diagnostic::on_unimplemented(
    message = "a role of the sub-choreography's census is not in the enclosing census",
    label = "some role of this sub-choreography is not in the enclosing census"
)]
pub trait Subset<S, I> {}

impl<S> Subset<S, Nil> for Nil {}
impl<S, H, T, I, Is> Subset<S, Cons<I, Is>> for Cons<H, T>
where
    H: Member<S, I>,
    T: Subset<S, Is>,
{
}

/// Writes a census type: `Roles![Client, Server]`, `Roles![Coordinator, Worker]`.
///
/// ```
/// rehearsal::roles!(Client, Server);
/// type Census = rehearsal::Roles![Client, Server];
/// use rehearsal::RoleSet;
/// assert_eq!(Census::entry_list(), vec![("Client", false), ("Server", false)]);
/// ```
#[macro_export]
macro_rules! Roles {
    () => { $crate::lang::census::Nil };
    ($head:ty $(, $tail:ty)* $(,)?) => {
        $crate::lang::census::Cons<$head, $crate::Roles!($($tail),*)>
    };
}

impl Census {
    /// Expands census type `C` with the given family sizes.
    ///
    /// Fails when a family has no size or the census has more than 65,535 participants.
    pub fn of<C: RoleSet>(sizes: &FamilySizes) -> Result<Census, ChoreoError> {
        let mut participants = Vec::new();
        for (name, family) in C::entry_list() {
            if family {
                let n = sizes.get(name).ok_or_else(|| ChoreoError::Census {
                    detail: format!(
                        "family `{name}` has no size; expected FamilySizes::new().with(\"{name}\", n)"
                    ),
                })?;
                participants.extend((0..n).map(|i| Participant::member(name, i)));
            } else {
                participants.push(Participant::role(name));
            }
        }
        if participants.len() > usize::from(u16::MAX) {
            return Err(ChoreoError::Census {
                detail: format!(
                    "{} participants; expected at most {}",
                    participants.len(),
                    u16::MAX
                ),
            });
        }
        Ok(Census::from_participants(participants))
    }

    /// The ids of every participant playing an entry of `S`, in census order.
    pub fn ids_of_set<S: RoleSet>(&self) -> Vec<ParticipantId> {
        let entries = S::entry_list();
        self.ids_where(|p| {
            entries
                .iter()
                .any(|(n, fam)| p.role == *n && p.index.is_some() == *fam)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::roles!(Coordinator, Client);
    crate::families!(Worker);

    #[test]
    fn families_expand_in_place_and_ids_follow_census_order() {
        let sizes = FamilySizes::new().with("Worker", 3);
        let c = Census::of::<crate::Roles![Coordinator, Worker, Client]>(&sizes).unwrap();
        let names: Vec<String> = c.participants().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            names,
            [
                "Coordinator",
                "Worker[0]",
                "Worker[1]",
                "Worker[2]",
                "Client"
            ]
        );
        assert_eq!(c.role_id("Client"), Some(ParticipantId(4)));
        assert_eq!(c.family_ids("Worker").len(), 3);
        assert_eq!(
            c.ids_of_set::<crate::Roles![Client, Worker]>(),
            vec![
                ParticipantId(1),
                ParticipantId(2),
                ParticipantId(3),
                ParticipantId(4)
            ]
        );
    }

    #[test]
    fn a_family_without_a_size_is_an_error_naming_it() {
        let err =
            Census::of::<crate::Roles![Coordinator, Worker]>(&FamilySizes::new()).unwrap_err();
        assert!(
            err.to_string().contains("family `Worker` has no size"),
            "{err}"
        );
    }
}
