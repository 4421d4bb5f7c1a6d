//! Pieces of one participant that run as tasks of their own.
//!
//! A checkpoint's body and rescue, and a sub-choreography (`call`, `enclave`), run as a
//! [`Child`] task of the participant: the code around it waits on the child's completion
//! instead of polling the child's future itself. So a wake-up inside a deep nest of blocks
//! polls only the innermost one, and nesting does not grow the thread's stack. Dropping a
//! child aborts it (a rescued block drops its body, and with it every child the body
//! started); a panic that escapes a child resumes in its parent, as if it had been polled
//! inline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::JoinHandle;

/// A task of one participant, aborted when dropped.
pub(crate) struct Child<T> {
    handle: JoinHandle<T>,
}

impl<T: Send + 'static> Child<T> {
    /// Starts `future` as a task on the current runtime (in a simulation: on the current
    /// simulated node, so it dies with the node).
    pub(crate) fn spawn(future: impl Future<Output = T> + Send + 'static) -> Child<T> {
        Child {
            handle: tokio::spawn(future),
        }
    }
}

impl<T> Future for Child<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match Pin::new(&mut self.handle).poll(cx) {
            Poll::Ready(Ok(value)) => Poll::Ready(value),
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
        self.handle.abort();
    }
}
