//! Generated choreographies: a program drawn from a seed, run under faults, checked against
//! its own central run.
//!
//! [`Shape::generate`] draws a tree of operators over 2-5 roles from the parameter `shape`:
//! local steps (some of which panic, inside checkpoints), comm, broadcast, multicast,
//! `ch.side_effect`, `ch.random`, `ch.now`, saga transactions (some of which refuse, aborting
//! the saga), nested and sequential checkpoints with rescues,
//! `ch.repeat` loops, enclaves, `ch.call` and nested sessions. Every operator mixes a value
//! into the accumulators of the roles it reaches, so each role's outcome fingerprints the
//! path the program took to it; the reference oracle compares it with the central run along
//! the same rescues and draws. `explore --generated` sets `shape` to each seed, so every
//! seed runs a different program; a failure's repro file records `shape`, `size` and
//! `prune`, which rebuild the failing program exactly, and shrinking deletes operators
//! (setting bits of `prune`) while the run still fails.
//!
//! ```
//! use rehearsal_scenarios::generated::{Generated, Shape};
//!
//! let g = Generated::new(Shape::generate(3, 16));
//! println!("{}", g.shape());
//! ```

mod interp;
mod shape;

use std::sync::Arc;

use rehearsal::{At, Choreo, ChoreoError, Choreography};
use rehearsal_sim::scenario::{Outputs, Param, Params, Scenario, ScenarioBuilder};

pub use interp::{Acc, C2, C3, C4, C5, Cast, R0, R1, R2, R3, R4, Sub, mix};
pub use shape::{Block, Effect, MAX_NODES, Node, Op, Shape};

/// Parameters: the generator seed, the size bound and the operators left out.
pub const PARAMS: &[Param] = &[
    Param {
        name: "shape",
        default: 1,
        summary: "the generator's seed: which program (explore --generated sets it to each seed)",
    },
    Param {
        name: "size",
        default: 24,
        summary: "at most this many operators",
    },
    Param {
        name: "sagas",
        default: 1,
        summary: "1: saga transactions are among the operators; 0: the generator as it was before",
    },
    Param {
        name: "prune",
        default: 0,
        summary: "operators left out, as a mask of their ids (bit i: g<i>); shrinking sets it",
    },
];

/// How the panics of generated local steps begin (they are planned, so quiet: see
/// [`crate::chorex::quiet_planned_crashes`]).
pub const PANICS: &str = "generated step";

/// Oracles beyond the reference oracle.
pub const ORACLES: &[(&str, &str)] = &[(
    "every-role-accumulates",
    "each role of the program ends with its accumulator (a value no path lost)",
)];

/// What each of the five roles ends with: its accumulator (`None` for a role the program
/// does not use).
pub type Out = (
    At<Option<u64>, R0>,
    At<Option<u64>, R1>,
    At<Option<u64>, R2>,
    At<Option<u64>, R3>,
    At<Option<u64>, R4>,
);

/// A generated program as a choreography over five roles; it runs its program in an
/// enclave of the roles it uses.
#[derive(Clone, Debug)]
pub struct Generated {
    shape: Arc<Shape>,
}

impl Generated {
    /// The choreography of `shape`.
    pub fn new(shape: Shape) -> Generated {
        Generated {
            shape: Arc::new(shape),
        }
    }

    /// The program it runs.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The program of these parameters.
    pub fn of(params: &Params) -> Generated {
        crate::chorex::quiet_planned_crashes();
        let size = params.get("size").min(MAX_NODES as u64) as usize;
        let sagas = params.get("sagas") != 0;
        let shape = Shape::generate_with(params.get("shape"), size, sagas);
        Generated::new(shape.prune(params.get("prune")))
    }
}

impl Choreography for Generated {
    type Census = C5;
    type Output = Out;

    async fn run(self, ch: &Choreo<C5>) -> Result<Out, ChoreoError> {
        let roles = self.shape.roles;
        let mut acc = Acc(vec![None; 5]);
        for i in 0..roles {
            acc.0[i] = C5::local(&ch.at("start"), i, Box::new(move || Some(i as u64 + 1))).await?;
        }
        let body = self.shape.body.clone();
        let inner = C5::enclave(ch, roles, body, interp::prefix(&acc, roles)).await?;
        interp::merge(&mut acc, inner);
        let a = acc.0;
        let ch = ch.at("out");
        Ok((
            ch.locally(R0, |_| a[0]).await?,
            ch.locally(R1, |_| a[1]).await?,
            ch.locally(R2, |_| a[2]).await?,
            ch.locally(R3, |_| a[3]).await?,
            ch.locally(R4, |_| a[4]).await?,
        ))
    }
}

/// The scenario `generated`.
pub fn scenario() -> ScenarioBuilder<Generated> {
    Scenario::new(
        "generated",
        "a choreography generated from the seed `shape`, checked against its central run",
        |p| Ok(Generated::of(p)),
    )
    .roles(["R0", "R1", "R2", "R3", "R4"])
    .params(PARAMS.iter().copied())
    .range(
        "size",
        1,
        MAX_NODES as u64,
        "operator ids fit a 64-bit prune mask",
    )
    .range("sagas", 0, 1, "")
    .simplify(simpler)
    .describe(|p| Generated::of(p).shape().to_string())
    .oracle_as::<Ends, _>(ORACLES[0].0, ORACLES[0].1, oracle)
}

/// One operator fewer: each operator still in the program, outermost first.
fn simpler(params: &Params) -> Vec<Params> {
    let prune = params.get("prune");
    Generated::of(params)
        .shape()
        .ids()
        .into_iter()
        .map(|id| params.with("prune", prune | 1 << id))
        .collect()
}

/// A participant's view of [`Out`].
type Ends = (
    Option<Option<u64>>,
    Option<Option<u64>>,
    Option<Option<u64>>,
    Option<Option<u64>>,
    Option<Option<u64>>,
);

fn oracle(p: &Params, outcomes: &Outputs<Ends>) -> Vec<String> {
    let roles = Generated::of(p).shape().roles;
    let mut violations = Vec::new();
    for i in 0..roles {
        let role = format!("R{i}");
        // A failed outcome (an aborted saga, say) is the reference oracle's to judge.
        if let Ok(e) = outcomes.of(&role) {
            let own = [e.0, e.1, e.2, e.3, e.4][i];
            if !matches!(own, Some(Some(_))) {
                violations.push(format!("{role} ended without its accumulator ({own:?})"));
            }
        }
    }
    violations
}
