//! What a running block body knows about itself, for the exit agreement.
//!
//! Every handle carries the [`Body`] it runs in: the top level of a session, or the body of a
//! checkpoint block instance (with its members and the body around it). Every operator counts
//! itself in the body while it runs ([`OpGuard`]), so when a nested block's body ends, its
//! participant can tell how many of the bodies around it are doing nothing but wait for that
//! nested block (its *chain*): it sends that number with its exit notice.
//!
//! A body whose last operator was a nested block over the same members, left through the
//! exit agreement, has nothing left to do at any member once that agreement holds: every
//! member has finished the nested body, and (a choreography's control flow being the same at
//! every member) none runs another operator in the outer body. When every member's chain
//! covered the outer body, the outer block is left without notices of its own; a cascade of
//! blocks that exit one after another with nothing in between costs one round of notices, not
//! one per level. Whether a member ran an operator after the nested block is decided from
//! [`Body::started`], which every operator bumps, skipped ones included, so every member
//! counts the same operators.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::ident::ParticipantId;

/// How many enclosing bodies one exit notice may cover: bounds the walk up the nest when a
/// block exits, so a deep nest whose levels do work after their nested block does not pay a
/// walk as deep as the nest at every exit. A longer cascade takes one round per this many
/// levels.
pub(crate) const MAX_CHAIN: u32 = 256;

/// One body at one participant: the top level of a session (block 0) or a block's body.
pub(crate) struct Body {
    /// The block instance (0: the session's top level, which is not a block).
    pub block: u64,
    /// The participants the body runs over.
    pub members: Arc<[ParticipantId]>,
    /// The body around this one.
    pub parent: Option<Arc<Body>>,
    /// Operators of this body running now.
    in_flight: AtomicU32,
    /// Operators of this body started so far.
    started: AtomicU64,
    /// Set when a nested block was left through an agreement whose chains covered this body.
    tail: Mutex<Option<Tail>>,
}

/// A nested block's agreed exit that may also end this body.
#[derive(Clone, Copy)]
struct Tail {
    /// How many bodies, this one first, the agreement covered.
    covered: u32,
    /// [`Body::started`] right after the nested block returned.
    started: u64,
}

impl Body {
    /// The top level of a session over `members`.
    pub fn top(members: Arc<[ParticipantId]>) -> Arc<Body> {
        Body::new(0, members, None)
    }

    /// The body of block instance `block` over `members`, nested in `parent`.
    pub fn new(block: u64, members: Arc<[ParticipantId]>, parent: Option<Arc<Body>>) -> Arc<Body> {
        Arc::new(Body {
            block,
            members,
            parent,
            in_flight: AtomicU32::new(0),
            started: AtomicU64::new(0),
            tail: Mutex::new(None),
        })
    }

    /// How many bodies around a nested block over `members`, this one first, do nothing but
    /// wait for it (at most [`MAX_CHAIN`]): each runs exactly one operator (the nested block,
    /// or the block around the next one), has the same members, and is a block's body.
    pub fn chain(self: &Arc<Body>, members: &[ParticipantId]) -> u32 {
        let mut n = 0;
        let mut body = Some(self);
        let mut inner = members;
        while let Some(b) = body {
            if n == MAX_CHAIN
                || b.block == 0
                || *b.members != *inner
                || b.in_flight.load(Ordering::Acquire) != 1
            {
                break;
            }
            n += 1;
            inner = &b.members;
            body = b.parent.as_ref();
        }
        n
    }

    /// A nested block was left through an agreement covering `covered` bodies, this one first.
    pub fn nested_exited(&self, covered: u32) {
        let tail = (covered > 0).then(|| Tail {
            covered,
            started: self.started.load(Ordering::Acquire),
        });
        *self.tail.lock().unwrap_or_else(|e| e.into_inner()) = tail;
    }

    /// Whether this body, now ended, is left without notices of its own: its last operator
    /// was a nested block left through an agreement that covered it. Passes the rest of that
    /// agreement's cover on to the body around it.
    pub fn ended_by_nested_exit(&self) -> bool {
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner()).take();
        match tail {
            Some(t) if t.started == self.started.load(Ordering::Acquire) => {
                if let Some(parent) = &self.parent {
                    parent.nested_exited(t.covered - 1);
                }
                true
            }
            _ => false,
        }
    }
}

/// Counts one operator in its body while it runs (also when its future is dropped).
pub(crate) struct OpGuard(Option<Arc<Body>>);

impl OpGuard {
    /// Starts counting an operator of `body` (nothing in the reference run, which has none).
    pub fn new(body: Option<&Arc<Body>>) -> OpGuard {
        if let Some(b) = body {
            b.started.fetch_add(1, Ordering::AcqRel);
            b.in_flight.fetch_add(1, Ordering::AcqRel);
        }
        OpGuard(body.cloned())
    }
}

impl Drop for OpGuard {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u16) -> Arc<[ParticipantId]> {
        (0..n).map(ParticipantId).collect()
    }

    #[test]
    fn a_chain_covers_the_bodies_that_only_wait_for_their_nested_block() {
        let top = Body::top(ids(2));
        let _top_op = OpGuard::new(Some(&top));
        let outer = Body::new(7, ids(2), Some(top.clone()));
        let _outer_op = OpGuard::new(Some(&outer));
        let inner = Body::new(8, ids(2), Some(outer.clone()));
        let _inner_op = OpGuard::new(Some(&inner));
        // Blocks 8 and 7 wait for their nested block; the top level is not a block.
        assert_eq!(inner.chain(&ids(2)), 2);
        // Another operator running in block 7's body breaks the chain there.
        let _other = OpGuard::new(Some(&outer));
        assert_eq!(inner.chain(&ids(2)), 1);
        // A nested block over fewer members covers nothing.
        assert_eq!(inner.chain(&ids(1)), 0);
    }

    #[test]
    fn an_operator_after_the_nested_block_keeps_the_body_from_ending_by_it() {
        let top = Body::top(ids(2));
        let body = Body::new(3, ids(2), Some(top.clone()));
        body.nested_exited(1);
        assert!(body.ended_by_nested_exit());
        body.nested_exited(1);
        drop(OpGuard::new(Some(&body)));
        assert!(!body.ended_by_nested_exit());
    }

    #[test]
    fn the_rest_of_the_cover_passes_to_the_body_around() {
        let top = Body::top(ids(2));
        let outer = Body::new(1, ids(2), Some(top.clone()));
        let inner = Body::new(2, ids(2), Some(outer.clone()));
        inner.nested_exited(2);
        assert!(inner.ended_by_nested_exit());
        assert!(outer.ended_by_nested_exit());
        assert!(!top.ended_by_nested_exit());
    }
}
