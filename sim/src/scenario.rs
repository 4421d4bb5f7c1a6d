//! Scenarios and registries: any choreography, with its parameters and oracles, by name.
//!
//! A [`Scenario`] is built from a choreography of any crate with [`Scenario::new`]: a name, a
//! one-line summary and a function from [`Params`] to the choreography value; builder methods
//! add numeric parameters, their ranges, family sizes and oracles. Oracles are closures over
//! **typed** outcomes ([`Outputs`] of the choreography's `Output`, or of any view type that
//! reads its JSON) and, where they need it, over the run's [`Trace`]. Every scenario also has
//! the reference oracle ([`REFERENCE_ORACLE`]): each participant's outcome equals the central
//! reference run's.
//!
//! A [`Registry`] is an ordered list of scenarios; the explorer, the shrinker, repro files,
//! replay and the CLI ([`crate::cli::main`]) work over any registry.
//!
//! ```
//! use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};
//! use rehearsal_sim::scenario::{Param, Registry, Scenario};
//!
//! roles!(Client, Server);
//!
//! /// Client sends a number, Server doubles it and everyone learns the result.
//! #[derive(Clone)]
//! struct Double(u64);
//!
//! impl Choreography for Double {
//!     type Census = Roles![Client, Server];
//!     type Output = u64;
//!     async fn run(self, ch: &Choreo<Self::Census>) -> Result<u64, ChoreoError> {
//!         let x = ch.locally(Client, |_| self.0).await?;
//!         let x = ch.at("request").comm(Client, Server, &x).await?;
//!         let y = ch.locally(Server, |s| s.get(&x) * 2).await?;
//!         ch.at("result").broadcast(Server, y).await
//!     }
//! }
//!
//! let double = Scenario::new("double", "Server doubles Client's number", |p| Ok(Double(p.get("x"))))
//!     .param(Param { name: "x", default: 21, summary: "the number sent" })
//!     .range("x", 0, 1_000, "")
//!     .oracle("doubles", "every participant ends with 2x", |p, out| {
//!         for (who, y) in out.values()? {
//!             if *y != 2 * p.get("x") {
//!                 return Err(format!("{who} ended with {y}"));
//!             }
//!         }
//!         Ok(())
//!     })
//!     .build();
//! let registry = Registry::new().with(double);
//! let s = registry.find("double").unwrap();
//! let params = s.parse_params(["x=5"]).unwrap();
//! assert_eq!(params.to_string(), "x=5");
//! assert!(registry.find("dubble").unwrap_err().to_string().contains("did you mean `double`"));
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use rehearsal::{ChoreoError, Choreography, FamilySizes, Outcomes, Program};
use serde::de::DeserializeOwned;

pub use crate::outputs::{OutcomeError, Outputs};
use crate::trace::Trace;

pub use crate::registry::{Registry, UnknownScenario};

pub use crate::params::{Param, ParamRange, Params};

/// The reference oracle's name: every participant's outcome equals the reference run's.
pub const REFERENCE_ORACLE: &str = "outcome-equals-reference";

/// What an oracle closure returns: nothing when it held, else one or more sentences saying
/// what was wrong (the harness puts the oracle's name in front of each).
pub trait Verdict {
    /// The violations, each prefixed with `oracle: `.
    fn violations(self, oracle: &str) -> Vec<String>;
}

impl Verdict for Result<(), String> {
    fn violations(self, oracle: &str) -> Vec<String> {
        self.err()
            .map(|m| format!("{oracle}: {m}"))
            .into_iter()
            .collect()
    }
}

impl Verdict for Vec<String> {
    fn violations(self, oracle: &str) -> Vec<String> {
        self.into_iter().map(|m| format!("{oracle}: {m}")).collect()
    }
}

/// A run as an oracle sees it, before decoding.
pub struct RunView<'a> {
    /// The run's parameters.
    pub params: &'a Params,
    /// Each participant's outcome (JSON).
    pub outcomes: &'a Outcomes,
    /// The reference run's outcomes.
    pub reference: &'a Outcomes,
    /// The run's trace, when the harness recorded one (the simulator does; an in-process
    /// cluster does not).
    pub trace: Option<&'a Trace>,
}

type ErasedOracle = Arc<dyn Fn(&RunView<'_>) -> Option<Vec<String>> + Send + Sync>;
type Build = Arc<dyn Fn(&Params) -> Result<Program, ChoreoError> + Send + Sync>;
type MakeChoreo<C> = Arc<dyn Fn(&Params) -> Result<C, ChoreoError> + Send + Sync>;
type MakeSizes = Arc<dyn Fn(&Params) -> Result<FamilySizes, ChoreoError> + Send + Sync>;

/// One named oracle, erased over the choreography's types.
#[derive(Clone)]
pub struct Oracle {
    /// Its name (the prefix of its violations).
    pub name: &'static str,
    /// What it checks.
    pub what: &'static str,
    check: ErasedOracle,
}

impl Oracle {
    /// An oracle over the run as it is (JSON outcomes, trace if any), for harnesses;
    /// `check` returns `None` when it cannot judge this run (a trace oracle without a trace).
    pub fn erased(
        name: &'static str,
        what: &'static str,
        check: impl Fn(&RunView<'_>) -> Option<Vec<String>> + Send + Sync + 'static,
    ) -> Oracle {
        Oracle {
            name,
            what,
            check: Arc::new(check),
        }
    }

    /// An oracle over the outcomes decoded as `V`.
    pub fn typed<V: DeserializeOwned, R: Verdict>(
        name: &'static str,
        what: &'static str,
        check: impl Fn(&Params, &Outputs<V>) -> R + Send + Sync + 'static,
    ) -> Oracle {
        Oracle::erased(name, what, move |run| {
            let typed = Outputs::<V>::decode(run.outcomes);
            Some(check(run.params, &typed).violations(name))
        })
    }

    /// An oracle over the outcomes decoded as `V` and the run's trace; it is not checked
    /// where no trace was recorded.
    pub fn with_trace<V: DeserializeOwned, R: Verdict>(
        name: &'static str,
        what: &'static str,
        check: impl Fn(&Params, &Outputs<V>, &Trace) -> R + Send + Sync + 'static,
    ) -> Oracle {
        Oracle::erased(name, what, move |run| {
            let trace = run.trace?;
            let typed = Outputs::<V>::decode(run.outcomes);
            Some(check(run.params, &typed, trace).violations(name))
        })
    }

    /// The violations of this oracle on `run` (empty when it held or could not judge).
    pub fn check(&self, run: &RunView<'_>) -> Vec<String> {
        (self.check)(run).unwrap_or_default()
    }
}

impl fmt::Debug for Oracle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Oracle").field("name", &self.name).finish()
    }
}

/// What a scenario says about itself.
#[derive(Clone)]
struct Parts {
    name: &'static str,
    summary: &'static str,
    roles: Vec<&'static str>,
    params: Vec<Param>,
    ranges: Vec<ParamRange>,
    oracles: Vec<Oracle>,
    expects: Vec<&'static str>,
    simplify: Option<Simplify>,
    describe: Option<Describe>,
}

/// The program of a run, in words (see [`ScenarioBuilder::describe`]).
type Describe = Arc<dyn Fn(&Params) -> String + Send + Sync>;

/// Simpler parameter values to try when shrinking a failure (see
/// [`ScenarioBuilder::simplify`]).
type Simplify = Arc<dyn Fn(&Params) -> Vec<Params> + Send + Sync>;

struct Inner {
    parts: Parts,
    build: Build,
}

/// A choreography with its name, parameters and oracles; cheap to clone.
#[derive(Clone)]
pub struct Scenario {
    inner: Arc<Inner>,
}

/// Builds a [`Scenario`] over choreography `C`: see [`Scenario::new`].
pub struct ScenarioBuilder<C> {
    inner: Parts,
    choreo: MakeChoreo<C>,
    families: MakeSizes,
    _choreography: PhantomData<fn() -> C>,
}

impl Scenario {
    /// A scenario called `name` (what the command line and repro files use) over the
    /// choreography `build` makes from the run's parameters. It returns the builder (the
    /// choreography's type is known until [`ScenarioBuilder::build`] erases it).
    #[allow(clippy::new_ret_no_self)]
    pub fn new<C: Choreography + Clone + Sync>(
        name: &'static str,
        summary: &'static str,
        build: impl Fn(&Params) -> Result<C, ChoreoError> + Send + Sync + 'static,
    ) -> ScenarioBuilder<C> {
        ScenarioBuilder {
            inner: Parts {
                name,
                summary,
                roles: Vec::new(),
                params: Vec::new(),
                ranges: Vec::new(),
                oracles: Vec::new(),
                expects: Vec::new(),
                simplify: None,
                describe: None,
            },
            choreo: Arc::new(build),
            families: Arc::new(|_| Ok(FamilySizes::new())),
            _choreography: PhantomData,
        }
    }

    /// Its name.
    pub fn name(&self) -> &'static str {
        self.inner.parts.name
    }

    /// One line on what the protocol does.
    pub fn summary(&self) -> &'static str {
        self.inner.parts.summary
    }

    /// The roles (and families) it runs over, as given to [`ScenarioBuilder::roles`]; else the
    /// participants of its program with default parameters.
    pub fn roles(&self) -> Vec<String> {
        if !self.inner.parts.roles.is_empty() {
            return self
                .inner
                .parts
                .roles
                .iter()
                .map(|r| r.to_string())
                .collect();
        }
        match self.program(&self.default_params()) {
            Ok(p) => p
                .census()
                .participants()
                .iter()
                .map(|p| p.to_string())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Its numeric parameters.
    pub fn params(&self) -> &[Param] {
        &self.inner.parts.params
    }

    /// Its oracles beyond the reference oracle.
    pub fn oracles(&self) -> &[Oracle] {
        &self.inner.parts.oracles
    }

    /// The recovery paths an exploration of every fault kind should walk in it (see
    /// [`ScenarioBuilder::expects`]).
    pub fn expected(&self) -> &[&'static str] {
        &self.inner.parts.expects
    }

    /// The parameters with every default.
    pub fn default_params(&self) -> Params {
        Params(
            self.inner
                .parts
                .params
                .iter()
                .map(|p| (p.name, p.default))
                .collect(),
        )
    }

    /// The values parameter `name` takes.
    pub fn range(&self, name: &str) -> ParamRange {
        self.inner
            .parts
            .ranges
            .iter()
            .find(|r| r.name == name)
            .copied()
            .unwrap_or(ParamRange {
                name: "",
                ..ParamRange::ANY
            })
    }

    /// Simpler values than `params` to try when shrinking a failure, simplest first (none
    /// unless the scenario gave [`ScenarioBuilder::simplify`]).
    pub fn simpler(&self, params: &Params) -> Vec<Params> {
        self.inner
            .parts
            .simplify
            .as_ref()
            .map_or_else(Vec::new, |f| f(params))
    }

    /// The program these parameters run, in words, when the scenario says
    /// ([`ScenarioBuilder::describe`]): `replay` prints it.
    pub fn describe(&self, params: &Params) -> Option<String> {
        self.inner.parts.describe.as_ref().map(|f| f(params))
    }

    /// The ranges given to [`ScenarioBuilder::range`].
    pub fn ranges(&self) -> &[ParamRange] {
        &self.inner.parts.ranges
    }

    /// Parses `name=value` settings over the defaults; an unknown name or a bad number is an
    /// error naming it and the parameters this scenario has.
    pub fn parse_params<'a>(
        &self,
        settings: impl IntoIterator<Item = &'a str>,
    ) -> Result<Params, String> {
        let mut params = self.default_params();
        let known = || {
            let names: Vec<&str> = self.inner.parts.params.iter().map(|p| p.name).collect();
            if names.is_empty() {
                format!("scenario `{}` has no parameters", self.name())
            } else {
                format!("scenario `{}` has: {}", self.name(), names.join(", "))
            }
        };
        for s in settings {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| format!("parameter `{s}`: expected name=value; {}", known()))?;
            let p = self
                .inner
                .parts
                .params
                .iter()
                .find(|p| p.name == k)
                .ok_or_else(|| format!("unknown parameter `{k}`; {}", known()))?;
            let r = self.range(p.name);
            let range = format!("expected a whole number from {} to {}", r.min, r.max);
            let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
            let v: u64 = match v.parse() {
                Ok(v) if (r.min..=r.max).contains(&v) => v,
                Ok(v) => return Err(format!("parameter `{k}`: {v} is out of range; {range}")),
                Err(_) if v.strip_prefix('-').is_some_and(digits) => {
                    return Err(format!("parameter `{k}`: {v} is negative; {range}"));
                }
                Err(_) if digits(v) => {
                    return Err(format!("parameter `{k}`: {v} is out of range; {range}"));
                }
                Err(_) => {
                    return Err(format!(
                        "parameter `{k}`: `{v}` is not a whole number; {range}"
                    ));
                }
            };
            params.0.insert(p.name, v);
        }
        Ok(params)
    }

    /// The choreography with its census fixed for these parameters.
    pub fn program(&self, params: &Params) -> Result<Program, ChoreoError> {
        (self.inner.build)(params)
    }

    /// Checks a run's outcomes against the reference run and the scenario's own oracles
    /// (those that need a trace are skipped); one line per violation, empty when every
    /// oracle held.
    pub fn check(&self, params: &Params, outcomes: &Outcomes, reference: &Outcomes) -> Vec<String> {
        self.check_run(&RunView {
            params,
            outcomes,
            reference,
            trace: None,
        })
    }

    /// Checks a run (with its trace, if any) against the reference oracle and every oracle.
    pub fn check_run(&self, run: &RunView<'_>) -> Vec<String> {
        let mut violations: Vec<String> = run
            .outcomes
            .differences(run.reference)
            .into_iter()
            .map(|d| format!("{REFERENCE_ORACLE}: {d}"))
            .collect();
        for oracle in &self.inner.parts.oracles {
            violations.extend(oracle.check(run));
        }
        violations
    }

    /// This scenario with `oracle` added (for harnesses adding a test's own oracles).
    pub fn with_oracle(&self, oracle: Oracle) -> Scenario {
        let mut parts = self.inner.parts.clone();
        parts.oracles.push(oracle);
        self.with_parts(parts)
    }

    /// This scenario expecting `paths` instead (see [`ScenarioBuilder::expects`]).
    pub fn with_expected(&self, paths: impl IntoIterator<Item = &'static str>) -> Scenario {
        let mut parts = self.inner.parts.clone();
        parts.expects = paths.into_iter().collect();
        self.with_parts(parts)
    }

    fn with_parts(&self, parts: Parts) -> Scenario {
        Scenario {
            inner: Arc::new(Inner {
                parts,
                build: self.inner.build.clone(),
            }),
        }
    }
}

impl<C: Choreography + Clone + Sync> ScenarioBuilder<C> {
    /// Adds a numeric parameter.
    pub fn param(mut self, param: Param) -> Self {
        self.inner.params.push(param);
        self
    }

    /// Adds numeric parameters.
    pub fn params(mut self, params: impl IntoIterator<Item = Param>) -> Self {
        self.inner.params.extend(params);
        self
    }

    /// Limits parameter `name` to `min..=max`; `why` says why it ends there (empty when it
    /// is just the choreography's).
    pub fn range(mut self, name: &'static str, min: u64, max: u64, why: &'static str) -> Self {
        self.inner.ranges.push(ParamRange {
            name,
            min,
            max,
            why,
        });
        self
    }

    /// Names the recovery paths ([`crate::coverage::PATHS`]) an exploration of every fault
    /// kind should walk in this scenario, and the labels of its own `ch.sometimes` goals it
    /// should reach: `explore --require-coverage expected` fails when its runs never walk
    /// one of those paths or reach one of those goals (a goal in code no run reaches is
    /// never even checked: naming it here is how that is caught).
    pub fn expects(mut self, paths: impl IntoIterator<Item = &'static str>) -> Self {
        self.inner.expects = paths.into_iter().collect();
        self
    }

    /// Lets the shrinker simplify the scenario as well as the plan: after shrinking a failing
    /// plan, it tries each of `candidates(params)` (a smaller program, say), keeps the first
    /// that still fails and asks again, until none does. A generated choreography shrinks
    /// its program this way.
    pub fn simplify(
        mut self,
        candidates: impl Fn(&Params) -> Vec<Params> + Send + Sync + 'static,
    ) -> Self {
        self.inner.simplify = Some(Arc::new(candidates));
        self
    }

    /// Says what program a run's parameters make, for `replay` to print (a generated
    /// choreography prints its operators).
    pub fn describe(mut self, program: impl Fn(&Params) -> String + Send + Sync + 'static) -> Self {
        self.inner.describe = Some(Arc::new(program));
        self
    }

    /// Names the roles (and families) for `list`, like `["Coordinator", "Worker[n]"]`.
    pub fn roles(mut self, roles: impl IntoIterator<Item = &'static str>) -> Self {
        self.inner.roles = roles.into_iter().collect();
        self
    }

    /// Sets the family sizes of a run from its parameters (default: no families).
    pub fn families(
        mut self,
        sizes: impl Fn(&Params) -> Result<FamilySizes, ChoreoError> + Send + Sync + 'static,
    ) -> Self {
        self.families = Arc::new(sizes);
        self
    }

    /// Adds an oracle over every participant's output, decoded as the choreography's
    /// `Output`. `check` returns `Ok(())` when it held, else what went wrong (or a list of
    /// such sentences); the violation is reported as `name: ...`.
    pub fn oracle<R: Verdict>(
        self,
        name: &'static str,
        what: &'static str,
        check: impl Fn(&Params, &Outputs<C::Output>) -> R + Send + Sync + 'static,
    ) -> Self
    where
        C::Output: DeserializeOwned,
    {
        self.oracle_as::<C::Output, R>(name, what, check)
    }

    /// Adds an oracle over every participant's output decoded as `V`, a view of the
    /// output's JSON (for an `Output` that does not implement `Deserialize`, or to read
    /// only some of its fields).
    pub fn oracle_as<V: DeserializeOwned, R: Verdict>(
        mut self,
        name: &'static str,
        what: &'static str,
        check: impl Fn(&Params, &Outputs<V>) -> R + Send + Sync + 'static,
    ) -> Self {
        self.inner.oracles.push(Oracle::typed(name, what, check));
        self
    }

    /// Adds an oracle over the typed outputs and the run's trace (checked where a trace is
    /// recorded: in the simulator).
    pub fn trace_oracle<R: Verdict>(
        mut self,
        name: &'static str,
        what: &'static str,
        check: impl Fn(&Params, &Outputs<C::Output>, &Trace) -> R + Send + Sync + 'static,
    ) -> Self
    where
        C::Output: DeserializeOwned,
    {
        self.inner
            .oracles
            .push(Oracle::with_trace(name, what, check));
        self
    }

    /// The scenario.
    pub fn build(self) -> Scenario {
        let (choreo, families) = (self.choreo, self.families);
        let build: Build = Arc::new(move |params| {
            let sizes = families(params)?;
            Program::new(choreo(params)?, &sizes)
        });
        Scenario {
            inner: Arc::new(Inner {
                parts: self.inner,
                build,
            }),
        }
    }
}

impl<C: Choreography + Clone + Sync> From<ScenarioBuilder<C>> for Scenario {
    fn from(b: ScenarioBuilder<C>) -> Scenario {
        b.build()
    }
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name())
            .finish()
    }
}
