//! Runs a [`Shape`] as a choreography, through the public operators only.
//!
//! Each role keeps an accumulator (a `u64`); every operator mixes a value into the
//! accumulators of the roles it reaches. A participant holds only its own entry of the
//! accumulator vector ([`Acc`]), the central reference run holds all of them, so an entry
//! that a wrong path reaches, or fails to reach, changes that role's outcome.
//!
//! Roles are types, so an operator on role `i` is a `match` over the census's roles:
//! [`Cast`] is implemented, by a macro, for the censuses `R0..R1` to `R0..R4`, and a block
//! of the first `n` roles (enclave, multicast, nested session) is the census of that size.

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::time::UNIX_EPOCH;

use rehearsal::{Choreo, ChoreoError, Choreography, Loop, RoleSet, Roles, roles};
use serde::{Deserialize, Serialize};

use super::shape::{Block, Effect, MAX_NODES, Node, Op};

roles!(R0, R1, R2, R3, R4);

/// The census of two roles.
pub type C2 = Roles![R0, R1];
/// The census of three roles.
pub type C3 = Roles![R0, R1, R2];
/// The census of four roles.
pub type C4 = Roles![R0, R1, R2, R3];
/// The census of five roles.
pub type C5 = Roles![R0, R1, R2, R3, R4];

/// Each role's accumulator, as this participant knows it (`None`: another role's).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acc(pub Vec<Option<u64>>);

/// A future of an operator's result.
pub type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, ChoreoError>> + Send + 'a>>;

/// A local computation: the value it yields (`None` where the input was not held).
pub type Step = Box<dyn FnOnce() -> Option<u64> + Send>;

/// The operators of a generated program for one census, on role indices.
pub trait Cast: RoleSet + Sized {
    /// Runs `f` at role `i`: its value there (and centrally), `None` elsewhere.
    fn local(ch: &Choreo<Self>, i: usize, f: Step) -> Fut<'_, Option<u64>>;
    /// A logged effect of `kind` at role `i`, mixed into `input` there.
    fn effect(
        ch: &Choreo<Self>,
        i: usize,
        kind: Effect,
        input: Option<u64>,
    ) -> Fut<'_, Option<u64>>;
    /// A saga transaction at role `i` named `name`, mixing `id` into `input` there; with
    /// `refuses`, it says no where the mixed value is a multiple of 4.
    fn saga<'a>(
        ch: &'a Choreo<Self>,
        i: usize,
        name: &'static str,
        refuses: bool,
        input: Option<u64>,
        id: u64,
    ) -> Fut<'a, Option<u64>>;
    /// Computes `f` at `from` and sends it to `to`: the value at `to`.
    fn comm(ch: &Choreo<Self>, from: usize, to: usize, f: Step) -> Fut<'_, Option<u64>>;
    /// Computes `f` at `from` and broadcasts it: the value everywhere.
    fn broadcast(ch: &Choreo<Self>, from: usize, f: Step) -> Fut<'_, Option<u64>>;
    /// Computes `f` at `from` and multicasts it to the first `to` roles: the value there.
    fn multicast(ch: &Choreo<Self>, from: usize, to: usize, f: Step) -> Fut<'_, Option<u64>>;
    /// Runs `body` in an enclave of the first `size` roles: the accumulators it ends with,
    /// at its members.
    fn enclave(ch: &Choreo<Self>, size: usize, body: Block, acc: Acc) -> Fut<'_, Option<Acc>>;
    /// Runs `body` as a sub-choreography over the same roles.
    fn call(ch: &Choreo<Self>, body: Block, acc: Acc) -> Fut<'_, Acc>;
    /// Runs `body` as a nested session of the first `size` roles and joins it.
    fn session(ch: &Choreo<Self>, size: usize, body: Block, acc: Acc) -> Fut<'_, Option<Acc>>;
}

/// A block of a generated program as a choreography over census `C`.
#[derive(Debug)]
pub struct Sub<C> {
    body: Block,
    /// The accumulators it starts from.
    acc: Acc,
    _census: std::marker::PhantomData<fn() -> C>,
}

impl<C> Clone for Sub<C> {
    fn clone(&self) -> Self {
        Sub::new(self.body.clone(), self.acc.clone())
    }
}

impl<C> Sub<C> {
    /// `body` starting from `acc`.
    pub fn new(body: Block, acc: Acc) -> Sub<C> {
        Sub {
            body,
            acc,
            _census: std::marker::PhantomData,
        }
    }
}

impl<C: Cast> Choreography for Sub<C> {
    type Census = C;
    type Output = Acc;

    async fn run(self, ch: &Choreo<C>) -> Result<Acc, ChoreoError> {
        exec(ch.clone(), self.body, self.acc).await
    }
}

/// Mixes `v` into `acc` (SplitMix64's finaliser over their sum).
pub fn mix(acc: u64, v: u64) -> u64 {
    let mut z = acc.wrapping_add(v).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The label of node `id`'s sites: `g<id>` (made once per process, for ids below
/// [`MAX_NODES`]).
pub fn label(id: usize) -> &'static str {
    static LABELS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        (0..MAX_NODES)
            .map(|i| &*Box::leak(format!("g{i}").into_boxed_str()))
            .collect()
    });
    LABELS.get(id).copied().unwrap_or("g-out-of-range")
}

/// Runs `block` from `acc`: the accumulators it ends with.
pub fn exec<C: Cast>(ch: Choreo<C>, block: Block, mut acc: Acc) -> Fut<'static, Acc> {
    Box::pin(async move {
        for node in block.iter() {
            acc = step(&ch, node, acc).await?;
        }
        Ok(acc)
    })
}

async fn step<C: Cast>(ch: &Choreo<C>, node: &Node, mut acc: Acc) -> Result<Acc, ChoreoError> {
    let id = node.id as u64;
    let ch = ch.at(label(node.id));
    let held = |i: usize| acc.0.get(i).copied().flatten();
    match &node.op {
        &Op::Local { role, panics } => {
            let input = held(role);
            acc.0[role] = C::local(
                &ch,
                role,
                Box::new(move || {
                    let v = mix(input?, id);
                    if panics && v % 4 == 0 {
                        panic!("{} g{id} panics on {v:#x}", super::PANICS);
                    }
                    Some(v)
                }),
            )
            .await?;
        }
        &Op::Comm { from, to } => {
            let input = held(from);
            let got = C::comm(&ch, from, to, Box::new(move || input.map(|a| mix(a, id)))).await?;
            acc.0[to] = mix_in(acc.0[to], got);
        }
        &Op::Broadcast { from } => {
            let input = held(from);
            let got = C::broadcast(&ch, from, Box::new(move || input.map(|a| mix(a, id)))).await?;
            for slot in acc.0.iter_mut() {
                *slot = mix_in(*slot, got);
            }
        }
        &Op::Multicast { from, to } => {
            let input = held(from);
            let got =
                C::multicast(&ch, from, to, Box::new(move || input.map(|a| mix(a, id)))).await?;
            for slot in acc.0.iter_mut().take(to) {
                *slot = mix_in(*slot, got);
            }
        }
        &Op::Effect { role, kind } => {
            acc.0[role] = C::effect(&ch, role, kind, held(role)).await?;
        }
        &Op::Saga { role, refuses } => {
            acc.0[role] = C::saga(&ch, role, label(node.id), refuses, held(role), id).await?;
        }
        Op::Checkpoint { body, rescue } => {
            let (body, rescue) = (body.clone(), rescue.clone());
            acc = ch
                .checkpoint(
                    acc.clone(),
                    move |ch, acc| exec(ch, body, acc),
                    move |ch, acc, _why| exec(ch, rescue, acc),
                )
                .await?;
        }
        Op::Repeat { times, body } => {
            let times = *times;
            let (_, end) = ch
                .repeat((0u8, acc), |ch, (i, acc)| {
                    let body = body.clone();
                    async move {
                        if i >= times {
                            return Ok(Loop::Done((i, acc)));
                        }
                        Ok(Loop::Next((i + 1, exec(ch, body, acc).await?)))
                    }
                })
                .await?;
            acc = end;
        }
        Op::Enclave { size, body } => {
            let inner = C::enclave(&ch, *size, body.clone(), prefix(&acc, *size)).await?;
            merge(&mut acc, inner);
        }
        Op::Call { body } => acc = C::call(&ch, body.clone(), acc).await?,
        Op::Session { size, body } => {
            let inner = C::session(&ch, *size, body.clone(), prefix(&acc, *size)).await?;
            merge(&mut acc, inner);
        }
    }
    Ok(acc)
}

/// `slot` with `got` mixed in, where both are held.
fn mix_in(slot: Option<u64>, got: Option<u64>) -> Option<u64> {
    match (slot, got) {
        (Some(a), Some(v)) => Some(mix(a, v)),
        (slot, _) => slot,
    }
}

/// The accumulators of the first `n` roles.
pub(crate) fn prefix(acc: &Acc, n: usize) -> Acc {
    Acc(acc.0.iter().take(n).copied().collect())
}

/// Takes back what an inner block ended with, where it is held.
pub(crate) fn merge(acc: &mut Acc, inner: Option<Acc>) {
    for (slot, v) in acc.0.iter_mut().zip(inner.unwrap_or_default().0) {
        if v.is_some() {
            *slot = v;
        }
    }
}

fn no_role(i: usize, what: &str) -> ChoreoError {
    ChoreoError::Census {
        detail: format!("a generated {what} names role {i}, outside its census"),
    }
}

/// A value drawn or computed by an effect, mixed into `input`.
fn effect_value(kind: Effect, input: Option<u64>, drawn: Option<u64>) -> Option<u64> {
    match kind {
        Effect::Side => input.map(|a| mix(a, 0x5eed)),
        _ => Some(mix(input?, drawn?)),
    }
}

/// Implements [`Cast`] for a census: its roles (index => type) and the censuses of its
/// prefixes (size => type), the last being itself.
macro_rules! cast {
    ($C:ty, [$($i:literal => $R:ident),+], [$($n:literal => $P:ty),+]) => {
        cast!(@impl $C, [$($i => $R),+], [$($n => $P),+], [$($i => $R),+]);
    };
    (@impl $C:ty, [$($i:literal => $R:ident),+], [$($n:literal => $P:ty),+], $all:tt) => {
        impl Cast for $C {
            fn local(ch: &Choreo<Self>, i: usize, f: Step) -> Fut<'_, Option<u64>> {
                match i {
                    $($i => Box::pin(async move {
                        Ok(ch.locally($R, move |_| f()).await?.view().copied().flatten())
                    }),)+
                    _ => Box::pin(async move { Err(no_role(i, "local step")) }),
                }
            }

            fn effect(
                ch: &Choreo<Self>,
                i: usize,
                kind: Effect,
                input: Option<u64>,
            ) -> Fut<'_, Option<u64>> {
                match i {
                    $($i => Box::pin(async move {
                        let drawn = match kind {
                            Effect::Side => {
                                return Ok(ch
                                    .side_effect($R, move |_| effect_value(kind, input, None))
                                    .await?
                                    .view()
                                    .copied()
                                    .flatten());
                            }
                            Effect::Random => ch.random($R).await?.view().copied(),
                            Effect::Now => ch.now($R).await?.view().map(|t| {
                                t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
                            }),
                        };
                        Ok(effect_value(kind, input, drawn))
                    }),)+
                    _ => Box::pin(async move { Err(no_role(i, "effect")) }),
                }
            }

            fn saga<'a>(
                ch: &'a Choreo<Self>,
                i: usize,
                name: &'static str,
                refuses: bool,
                input: Option<u64>,
                id: u64,
            ) -> Fut<'a, Option<u64>> {
                match i {
                    $($i => Box::pin(async move {
                        let done = ch
                            .transaction(
                                $R,
                                name,
                                move |_, tx| {
                                    let v = input.map(|a| mix(a, id));
                                    if refuses && v.is_some_and(|v| v % 4 == 0) {
                                        return Err(format!("{name} refuses"));
                                    }
                                    let n = tx.get_or(name, 0u64);
                                    tx.put(name, &(n + 1));
                                    Ok(v)
                                },
                                move |tx, _: &Option<u64>| {
                                    let n = tx.get_or(name, 0u64);
                                    tx.put(name, &n.saturating_sub(1));
                                },
                            )
                            .await?;
                        Ok(done.view().copied().flatten())
                    }),)+
                    _ => Box::pin(async move { Err(no_role(i, "transaction")) }),
                }
            }

            fn comm(ch: &Choreo<Self>, from: usize, to: usize, f: Step) -> Fut<'_, Option<u64>> {
                match from {
                    $($i => cast!(@to ch, $R, to, f, $all),)+
                    _ => Box::pin(async move { Err(no_role(from, "comm")) }),
                }
            }

            fn broadcast(ch: &Choreo<Self>, from: usize, f: Step) -> Fut<'_, Option<u64>> {
                match from {
                    $($i => Box::pin(async move {
                        let v = ch.locally($R, move |_| f()).await?;
                        ch.broadcast($R, v).await
                    }),)+
                    _ => Box::pin(async move { Err(no_role(from, "broadcast")) }),
                }
            }

            fn multicast(
                ch: &Choreo<Self>,
                from: usize,
                to: usize,
                f: Step,
            ) -> Fut<'_, Option<u64>> {
                match to {
                    $($n => cast!(@multicast ch, $P, from, f, $all),)+
                    _ => Box::pin(async move { Err(no_role(to, "multicast")) }),
                }
            }

            fn enclave(
                ch: &Choreo<Self>,
                size: usize,
                body: Block,
                acc: Acc,
            ) -> Fut<'_, Option<Acc>> {
                match size {
                    $($n => Box::pin(async move {
                        let sub = Sub::<$P>::new(body, acc);
                        Ok(ch.enclave(sub).await?.view().cloned())
                    }),)+
                    _ => Box::pin(async move { Err(no_role(size, "enclave")) }),
                }
            }

            fn call(ch: &Choreo<Self>, body: Block, acc: Acc) -> Fut<'_, Acc> {
                Box::pin(async move { ch.call(Sub::<$C>::new(body, acc)).await })
            }

            fn session(
                ch: &Choreo<Self>,
                size: usize,
                body: Block,
                acc: Acc,
            ) -> Fut<'_, Option<Acc>> {
                match size {
                    $($n => Box::pin(async move {
                        let spawned = ch.spawn_session(Sub::<$P>::new(body, acc))?;
                        Ok(spawned.join().await??.view().cloned())
                    }),)+
                    _ => Box::pin(async move { Err(no_role(size, "session")) }),
                }
            }
        }
    };
    (@multicast $ch:ident, $P:ty, $from:ident, $f:ident, [$($j:literal => $R:ident),+]) => {
        match $from {
            $($j => Box::pin(async move {
                let v = $ch.locally($R, move |_| $f()).await?;
                let got = $ch.multicast::<$P, _, _, _, _>($R, v).await?;
                Ok(got.view().copied().flatten())
            }),)+
            _ => Box::pin(async move { Err(no_role($from, "multicast")) }),
        }
    };
    (@to $ch:ident, $S:ident, $to:ident, $f:ident, [$($j:literal => $R:ident),+]) => {
        match $to {
            $($j => Box::pin(async move {
                let v = $ch.locally($S, move |_| $f()).await?;
                Ok($ch.comm($S, $R, &v).await?.view().copied().flatten())
            }),)+
            _ => Box::pin(async move { Err(no_role($to, "comm")) }),
        }
    };
}

cast!(C2, [0 => R0, 1 => R1], [2 => C2]);
cast!(C3, [0 => R0, 1 => R1, 2 => R2], [2 => C2, 3 => C3]);
cast!(C4, [0 => R0, 1 => R1, 2 => R2, 3 => R3], [2 => C2, 3 => C3, 4 => C4]);
cast!(
    C5,
    [0 => R0, 1 => R1, 2 => R2, 3 => R3, 4 => R4],
    [2 => C2, 3 => C3, 4 => C4, 5 => C5]
);
