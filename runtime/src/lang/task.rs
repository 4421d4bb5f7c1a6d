//! Pieces of one participant that run as tasks of their own.
//!
//! A checkpoint's body and rescue, and a sub-choreography (`call`, `enclave`), run as a
//! [`Child`] of the participant. A child first runs inline, in its parent's poll, until it
//! first waits (so the participant does everything it can before anyone else runs, as if the
//! code were one function); only then does it become a task of its own, which the parent waits
//! on instead of polling it. So a wake-up inside a deep nest of blocks polls only the innermost
//! one, and nesting does not grow the thread's stack (inline runs nest at most
//! [`INLINE_DEPTH`] deep: a chain of children that never wait, like the reference run's,
//! becomes tasks beyond that). Dropping a child aborts it (a rescued block drops its body, and
//! with it every child the body started); a panic that escapes a child resumes in its parent,
//! as if it had been polled inline.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::JoinHandle;

/// How many children may run inline inside one another on one thread's stack.
const INLINE_DEPTH: u32 = 16;

thread_local! {
    /// Children running inline on this thread now.
    static INLINE: Cell<u32> = const { Cell::new(0) };
}

type Body<T> = Pin<Box<dyn Future<Output = T> + Send>>;

enum State<T> {
    /// Not polled yet: runs inline at the first poll.
    Fresh(Body<T>),
    /// Waiting: a task of its own.
    Running(JoinHandle<T>),
    /// Finished (its output was taken).
    Done,
}

/// A piece of one participant, aborted when dropped.
pub(crate) struct Child<T> {
    state: State<T>,
}

impl<T: Send + 'static> Child<T> {
    /// A child running `future`: inline at its first poll, then (if it waits) as a task on the
    /// current runtime (in a simulation: on the current simulated node, so it dies with it).
    pub(crate) fn spawn(future: impl Future<Output = T> + Send + 'static) -> Child<T> {
        Child {
            state: State::Fresh(Box::pin(future)),
        }
    }
}

/// Counts one inline run while it lives.
struct Inline;

impl Inline {
    fn enter() -> Option<Inline> {
        INLINE.with(|depth| {
            (depth.get() < INLINE_DEPTH).then(|| {
                depth.set(depth.get() + 1);
                Inline
            })
        })
    }
}

impl Drop for Inline {
    fn drop(&mut self) {
        INLINE.with(|depth| depth.set(depth.get() - 1));
    }
}

impl<T: Send + 'static> Future for Child<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if let State::Fresh(body) = &mut self.state {
            if let Some(_inline) = Inline::enter() {
                if let Poll::Ready(value) = body.as_mut().poll(cx) {
                    self.state = State::Done;
                    return Poll::Ready(value);
                }
            }
            // It waits (or runs too deep inline): from now on a task of its own. The boxed
            // future stays where it is on the heap, so moving the box is no move of the future.
            let State::Fresh(body) = std::mem::replace(&mut self.state, State::Done) else {
                unreachable!("the state was just matched as fresh")
            };
            self.state = State::Running(tokio::spawn(body));
        }
        let State::Running(handle) = &mut self.state else {
            return Poll::Pending;
        };
        match Pin::new(handle).poll(cx) {
            Poll::Ready(Ok(value)) => {
                self.state = State::Done;
                Poll::Ready(value)
            }
            Poll::Ready(Err(error)) => {
                #[cfg(not(madsim))]
                if error.is_panic() {
                    std::panic::resume_unwind(error.into_panic());
                }
                // Cancelled: only the runtime shutting down (its node dying) cancels a child
                // that is still awaited, and then its parent is going too.
                let _ = error;
                Poll::Pending
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> Drop for Child<T> {
    fn drop(&mut self) {
        if let State::Running(handle) = &self.state {
            handle.abort();
        }
    }
}
