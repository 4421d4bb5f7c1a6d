//! The shipped registry: every scenario of this crate, built with the harness's public API
//! ([`rehearsal_sim::scenario::Scenario::new`]) exactly as a user's crate builds its own.

use std::sync::OnceLock;

use rehearsal_sim::scenario::{Registry, Scenario, UnknownScenario};

/// What every shipped scenario walks under every fault kind with two nodes down at a time
/// (`explore --faults all --max-down 2`): frames sent again and copies suppressed, killed
/// nodes replayed, and killed again while they replayed.
const BASE: [&str; 4] = ["retransmit", "dup-suppressed", "restart", "replay-crash"];

/// `scenario`, expecting the paths of [`BASE`] and `more`.
fn expecting(scenario: impl Into<Scenario>, more: &[&'static str]) -> Scenario {
    scenario
        .into()
        .with_expected(BASE.into_iter().chain(more.iter().copied()))
}

/// Every shipped scenario, in `list` order, and the hidden ones (test-only planted bugs),
/// found by name, never listed or explored by default. Each expects the recovery paths an
/// exploration of every fault kind walks in it, and its own goals (`explore
/// --require-coverage expected`).
pub fn registry() -> Registry {
    let rescues: &[&str] = &["stale", "rescue"];
    let sagas: &[&str] = &["held", "failure-reported", "compensate"];
    Registry::new()
        .with(expecting(crate::bookseller::scenario(), &[]))
        .with(expecting(
            crate::alice_bob::scenario(),
            &["stale", "rescue", "answered-after-rescue"],
        ))
        .with(expecting(crate::counter::scenario(), rescues))
        .with(expecting(crate::workers::scenario(), &[]))
        .with(expecting(crate::chorex::state_machine::scenario(), rescues))
        .with(expecting(
            crate::chorex::mini_blockchain::scenario(),
            rescues,
        ))
        .with(expecting(crate::chorex::flat_loop::scenario(), &["rescue"]))
        .with(expecting(crate::chorex::nest_loop::scenario(), rescues))
        .with(expecting(crate::warehouse::scenario(), sagas))
        .with(expecting(crate::travel::scenario(), sagas))
        .with(expecting(
            crate::listener::scenario(),
            &["stale", "rescue", "failure-reported"],
        ))
        .with(expecting(
            crate::orders::scenario(),
            &["failure-reported", "compensate"],
        ))
        .with(expecting(crate::tcp_server::scenario(), &["held"]))
        .with(expecting(crate::srp::scenario(), &[]))
        // Which rescues a generated program walks depends on the program drawn (`shape`): at
        // the default shape, none; over varied shapes (`--generated`), `rescue` and `stale`.
        .with(expecting(crate::generated::scenario(), &[]))
        .with_hidden(crate::planted::impatience())
        .with_hidden(crate::srp::planted_leak())
}

/// The shipped scenario called `name` (listed or hidden), from one [`registry`] kept for
/// the process.
pub fn find(name: &str) -> Result<&'static Scenario, UnknownScenario> {
    static SHIPPED: OnceLock<Registry> = OnceLock::new();
    SHIPPED.get_or_init(registry).find(name)
}

#[cfg(test)]
mod range_tests {
    use super::*;

    #[test]
    fn parameters_check_their_ranges_and_say_them() {
        let registry = registry();
        for s in registry.all() {
            for p in s.params() {
                let r = s.range(p.name);
                assert!(
                    r.min <= p.default && p.default <= r.max,
                    "{}.{}",
                    s.name(),
                    p.name
                );
            }
            for r in s.ranges() {
                assert!(
                    s.params().iter().any(|p| p.name == r.name),
                    "{}.{}",
                    s.name(),
                    r.name
                );
            }
        }
        let workers = registry.find("workers").unwrap();
        let e = workers.parse_params(["n=65534"]).unwrap_err();
        assert!(
            e.contains("65534 is out of range; expected a whole number from 1 to 500"),
            "{e}"
        );
        let e = workers.parse_params(["n=-1"]).unwrap_err();
        assert!(e.contains("-1 is negative"), "{e}");
        let e = registry
            .find("bookseller")
            .unwrap()
            .parse_params(["budget=18446744073709551616"])
            .unwrap_err();
        assert!(e.contains("18446744073709551616 is out of range"), "{e}");
        let e = registry
            .find("flat-loop")
            .unwrap()
            .parse_params(["laps=10000000"])
            .unwrap_err();
        assert!(e.contains("from 0 to 10000"), "{e}");
        assert_eq!(workers.parse_params(["n=500"]).unwrap().get("n"), 500);
    }

    #[test]
    fn list_names_every_scenario_and_its_oracles_but_not_the_hidden_ones() {
        let registry = registry();
        let l = rehearsal_sim::cli::list(&registry);
        for s in registry.iter() {
            assert!(l.contains(s.name()), "{l}");
            for o in s.oracles() {
                assert!(l.contains(o.name), "{l}");
            }
        }
        assert!(!l.contains("planted-impatience"), "{l}");
        assert!(registry.find("planted-impatience").is_ok());
    }
}
