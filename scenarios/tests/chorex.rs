//! Chorex's benchmark scenarios on the in-process runtime: every scenario in every variant
//! (baseline, chk, chk+crash) ends with its reference run's outcome, passes its own oracle,
//! and ends with the same outcome as the baseline. Deep nests (the mini blockchain's 201
//! blocks, a 2,000-lap nested loop) run on a thread with a big stack.

use std::future::Future;

use rehearsal::{LocalCluster, Outcomes};
use rehearsal_scenarios::chorex::Variant;
use rehearsal_scenarios::find;

/// Runs scenario `name` with `settings` on `cluster`; checks the reference oracle and the
/// scenario's oracles and returns the outcomes.
async fn check(cluster: &LocalCluster, name: &str, settings: &[String]) -> Outcomes {
    let scenario = find(name).unwrap();
    let params = scenario
        .parse_params(settings.iter().map(String::as_str))
        .unwrap();
    let program = scenario.program(&params).unwrap();
    let reference = program.reference().await;
    assert!(
        reference.all_ok(),
        "{name} ({params}): reference run failed:\n{reference}"
    );
    let outcomes = cluster.run(&program).await;
    let violations = scenario.check(&params, &outcomes, &reference);
    assert!(
        violations.is_empty(),
        "{name} ({params}): {violations:#?}\noutcomes:\n{outcomes}"
    );
    outcomes
}

/// Every variant of `name` with `extra` settings: each passes its oracles and ends like the
/// baseline.
async fn every_variant(cluster: &LocalCluster, name: &str, extra: &[&str]) -> Outcomes {
    let mut baseline: Option<Outcomes> = None;
    for variant in Variant::ALL {
        let mut settings = vec![format!("variant={}", variant.number())];
        settings.extend(extra.iter().map(|s| s.to_string()));
        let outcomes = check(cluster, name, &settings).await;
        match &baseline {
            None => baseline = Some(outcomes),
            Some(base) => assert_eq!(
                &outcomes,
                base,
                "{name} {}: the outcome differs from the baseline's",
                variant.name()
            ),
        }
    }
    baseline.unwrap()
}

#[tokio::test]
async fn state_machine_ends_in_the_end_room_in_every_variant() {
    let cluster = LocalCluster::new();
    let outcomes = every_variant(&cluster, "state-machine", &[]).await;
    assert_eq!(
        outcomes.get("Worker"),
        Some(&Ok(
            r#"{"name":null,"room":"end","farewell":null}"#.to_string()
        ))
    );
    assert_eq!(
        outcomes.get("Player"),
        Some(&Ok(
            r#"{"name":null,"room":null,"farewell":"Thank you for playing cretin"}"#.to_string()
        ))
    );
}

#[test]
fn mini_blockchain_finds_nonce_242_in_every_variant() {
    // The checkpointed variant nests 201 blocks: more than a test thread's stack in debug.
    on_big_stack(|| block_on(mini_blockchain()));
}

async fn mini_blockchain() {
    let cluster = LocalCluster::new();
    // Chorex's start nonce: 201 attempts, 201 nested blocks in the checkpointed variant.
    let outcomes = every_variant(&cluster, "mini-blockchain", &["start=42"]).await;
    let want = "00ef494c3fde957375d26a35917b7a95a0e8e58957c931314ca7e05f4b5011bb";
    assert_eq!(
        outcomes.get("Verifier"),
        Some(&Ok(format!(
            r#"{{"nonce":242,"hash":"{want}","attempts":null}}"#
        )))
    );
    assert_eq!(
        outcomes.get("Searcher"),
        Some(&Ok(
            r#"{"nonce":null,"hash":null,"attempts":201}"#.to_string()
        ))
    );
    // A start past the good byte wraps around to it: (300 + 198) mod 256 = 242.
    every_variant(&cluster, "mini-blockchain", &["start=300"]).await;
    every_variant(&cluster, "mini-blockchain", &["start=242"]).await;
    // The registry's default: 11 attempts to the same answer.
    let default = every_variant(&cluster, "mini-blockchain", &[]).await;
    assert_eq!(default.get("Verifier"), outcomes.get("Verifier"));
}

#[tokio::test]
async fn flat_loop_does_every_lap_once_in_every_variant() {
    let cluster = LocalCluster::new();
    for laps in ["laps=1", "laps=7"] {
        every_variant(&cluster, "flat-loop", &[laps]).await;
    }
}

#[tokio::test]
async fn nest_loop_reaches_the_last_lap_in_every_variant() {
    // Few laps: the checkpointed variant nests one block per lap on this thread's stack.
    let cluster = LocalCluster::new();
    for laps in ["laps=1", "laps=2", "laps=7"] {
        let outcomes = every_variant(&cluster, "nest-loop", &[laps]).await;
        assert!(
            outcomes
                .get("Runner")
                .unwrap()
                .as_ref()
                .unwrap()
                .starts_with(&format!(r#"{{"laps":{},"runner":""#, &laps[5..])),
            "{outcomes}"
        );
    }
}

#[test]
fn bad_variants_and_zero_laps_are_refused() {
    for (name, setting) in [
        ("state-machine", "variant=3"),
        ("flat-loop", "laps=0"),
        ("nest-loop", "laps=0"),
    ] {
        let s = find(name).unwrap();
        // Refused when read (the parameter's range) or when the program is built.
        let err = match s.parse_params([setting]) {
            Err(e) => e,
            Ok(p) => s
                .program(&p)
                .err()
                .unwrap_or_else(|| panic!("{name} {setting} was accepted"))
                .to_string(),
        };
        assert!(
            err.to_string().contains(&setting[..setting.len() - 2]),
            "{err}"
        );
    }
}

/// Runs `f` on a fresh thread with a 512 MiB stack.
fn on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .name("big-stack".into())
        .stack_size(512 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// Runs `future` to completion on a fresh runtime on the current thread.
#[cfg(not(madsim))]
fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Runs `future` to completion on a fresh madsim runtime on the current thread.
#[cfg(madsim)]
fn block_on<F: Future>(future: F) -> F::Output {
    tokio::madsim::runtime::Runtime::new().block_on(future)
}

#[test]
fn nest_loop_nests_10000_checkpoints_on_the_default_stack() {
    // Every block's body runs as a task of its own, so nesting does not grow the stack: a
    // thread with the default 2 MiB of a spawned thread is enough for Chorex's nest-10k.
    std::thread::Builder::new()
        .name("default-stack".into())
        .stack_size(2 << 20)
        .spawn(|| {
            block_on(async {
                let cluster = LocalCluster::new();
                let settings = ["variant=1".to_string(), "laps=10000".into()];
                check(&cluster, "nest-loop", &settings).await;
            })
        })
        .unwrap()
        .join()
        .unwrap();
}
