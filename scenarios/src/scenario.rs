//! The shipped registry: every scenario of this crate, built with the harness's public API
//! ([`rehearsal_sim::scenario::Scenario::new`]) exactly as a user's crate builds its own.

use std::sync::OnceLock;

use rehearsal_sim::scenario::{Registry, Scenario, UnknownScenario};

/// Every shipped scenario, in `list` order, and the hidden ones (test-only planted bugs),
/// found by name, never listed or explored by default.
pub fn registry() -> Registry {
    Registry::new()
        .with(crate::bookseller::scenario())
        .with(crate::alice_bob::scenario())
        .with(crate::counter::scenario())
        .with(crate::workers::scenario())
        .with(crate::chorex::state_machine::scenario())
        .with(crate::chorex::mini_blockchain::scenario())
        .with(crate::chorex::flat_loop::scenario())
        .with(crate::chorex::nest_loop::scenario())
        .with(crate::warehouse::scenario())
        .with(crate::travel::scenario())
        .with(crate::listener::scenario())
        .with(crate::orders::scenario())
        .with(crate::tcp_server::scenario())
        .with(crate::srp::scenario())
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
