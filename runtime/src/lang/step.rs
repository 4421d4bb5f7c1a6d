//! Local steps: [`Choreo::locally`], and the gate every local step passes (effects, draws
//! and family steps too).
//!
//! A local step waits until its body may go on (a body whose block is being rescued runs no
//! further step), counts itself, lets an observer inject a fault, then runs the user's
//! closure, a panic in which is an application crash of the role at the step's site. The
//! waiting part ([`Choreo::local_gate`]) is one body for every step of a census; what depends
//! on the closure and the role ([`LocalStep`]) is a small hand-written future, so a
//! choreography of hundreds of local steps compiles hundreds of small functions, not hundreds
//! of state machines.

use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::engine::session::Session;
use crate::error::ChoreoError;
use crate::ident::{Participant, Site};
use crate::lang::body::OpGuard;
use crate::lang::census::{Member, RoleSet};
use crate::lang::choreo::{Choreo, Ctx};
use crate::lang::located::{At, Local, Place};
use crate::lang::role::Role;
use crate::observer::Verdict;

impl<C: RoleSet> Choreo<C> {
    /// Runs `f` at role `R` only; elsewhere it is skipped. `f` reads values located at `R`
    /// through its [`Local<R>`] argument. A panic in `f` is an application crash of `R`.
    #[track_caller]
    pub fn locally<T, R, I, F>(
        &self,
        _role: R,
        f: F,
    ) -> impl Future<Output = Result<At<T, R>, ChoreoError>> + Send
    where
        T: Send,
        R: Role + Member<C, I>,
        F: FnOnce(Local<'_, R>) -> T + Send,
    {
        let site = self.site();
        // Plain control flow, no combinators: this front and `LocalStep::poll` are compiled
        // once per call site.
        let gate = if self.plays(R::NAME) {
            Some(self.local_gate(site))
        } else {
            None
        };
        LocalStep {
            gate,
            f: Some(f),
            choreo: self,
            op: None,
            _role: PhantomData,
        }
    }

    /// Whether this run plays role `name`: the reference run plays every role.
    pub(crate) fn plays(&self, name: &'static str) -> bool {
        match &*self.ctx {
            Ctx::Central { .. } => true,
            Ctx::Projected { session, .. } => session.participant() == Participant::role(name),
        }
    }

    /// Runs one local step `f` of `role` at `site` (see [`local_gate`](Self::local_gate)).
    pub(crate) async fn run_local<T>(
        &self,
        role: String,
        site: &Site,
        f: impl FnOnce() -> T,
    ) -> Result<T, ChoreoError> {
        self.local_gate(site.clone()).await?.run(role, f)
    }

    /// The wait before a local step at `site`: until the body may go on (or it fails), then
    /// the step counted and an observer asked for a fault. A halted participant waits here
    /// for ever.
    pub(crate) async fn local_gate(&self, site: Site) -> Result<Gate<'_>, ChoreoError> {
        self.proceed().await?;
        let step = self.count_step();
        let injected = match self.observe_local(&site) {
            Verdict::Continue => None,
            Verdict::Panic(message) => Some(message),
            Verdict::Halt => {
                std::future::pending::<()>().await;
                unreachable!("a halted participant never resumes")
            }
        };
        Ok(Gate {
            step,
            site,
            injected,
        })
    }
}

/// A local step past its gate: counted, and with the fault an observer injected, if any.
pub(crate) struct Gate<'a> {
    step: Option<(&'a Session, u64)>,
    site: Site,
    injected: Option<String>,
}

impl Gate<'_> {
    /// Runs `f` (unless a fault was injected): a panic in it is an application crash of
    /// `role`, recorded at the step.
    pub(crate) fn run<T>(self, role: String, f: impl FnOnce() -> T) -> Result<T, ChoreoError> {
        let (mut f, mut out) = (Some(f), None);
        self.run_dyn(role, &mut || {
            if let Some(f) = f.take() {
                out = Some(f());
            }
        })?;
        Ok(out.expect("a local step that did not crash has its result"))
    }

    /// [`run`](Self::run) with the step as a closure that keeps its own result: one body for
    /// every step.
    fn run_dyn(self, role: String, f: &mut dyn FnMut()) -> Result<(), ChoreoError> {
        let outcome = match self.injected {
            Some(message) => Err(message),
            None => std::panic::catch_unwind(AssertUnwindSafe(f))
                .map_err(|panic| panic_message(panic.as_ref())),
        };
        crash_of(outcome, self.step, role, &self.site)
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Choreo::locally`]: the gate (none at other roles), then `f`.
    struct LocalStep<'a, C: RoleSet, G, F, R> {
        #[pin]
        gate: Option<G>,
        f: Option<F>,
        choreo: &'a Choreo<C>,
        // Counts the step in its body from its first poll, as every operator does.
        op: Option<OpGuard>,
        _role: PhantomData<fn() -> R>,
    }
}

impl<'a, C, G, F, T, R> Future for LocalStep<'a, C, G, F, R>
where
    C: RoleSet,
    G: Future<Output = Result<Gate<'a>, ChoreoError>>,
    F: FnOnce(Local<'_, R>) -> T,
    R: Role,
{
    type Output = Result<At<T, R>, ChoreoError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.op.is_none() {
            *this.op = Some(this.choreo.begin());
        }
        let Some(gate) = this.gate.as_pin_mut() else {
            return Poll::Ready(Ok(At::absent()));
        };
        let gate = match ready!(gate.poll(cx)) {
            Ok(gate) => gate,
            Err(error) => return Poll::Ready(Err(error)),
        };
        let (f, mut out) = (this.f, None);
        if let Err(error) = gate.run_dyn(R::NAME.to_string(), &mut || {
            if let Some(f) = f.take() {
                out = Some(f(Local::new()));
            }
        }) {
            return Poll::Ready(Err(error));
        }
        Poll::Ready(Ok(At::place(out)))
    }
}

/// The message of a panic's payload.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    }
}

/// A local step's outcome, its panic message (if it panicked) made an application crash of
/// `role` at `site`, recorded at the step. A crash is not a session failure yet: the
/// innermost checkpoint rescues it, or, at top level, the participant is replayed once and
/// fails the session only if the crash repeats.
pub(crate) fn crash_of<T>(
    outcome: Result<T, String>,
    step: Option<(&Session, u64)>,
    role: String,
    site: &Site,
) -> Result<T, ChoreoError> {
    if let (Err(_), Some((session, step))) = (&outcome, step) {
        session.crashed_in(step);
    }
    outcome.map_err(|message| ChoreoError::Crashed {
        role,
        site: Box::new(site.clone()),
        message,
    })
}
