//! Chorex's benchmark scenarios on the in-process runtime: every scenario in every variant
//! (baseline, chk, chk+crash) ends with its reference run's outcome, passes its own oracle,
//! and ends with the same outcome as the baseline (but the crashing flat loop, Chorex's
//! `CrashyLoop`, which does one work fewer). Deep nests (the mini blockchain's 201 blocks,
//! 501 nested blocks or calls of the loops) run on a test thread's ordinary stack: bodies
//! and sub-choreographies are tasks of their own.

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
    variants(cluster, name, extra, &Variant::ALL).await
}

/// The `variants` of `name` with `extra` settings: each passes its oracles and ends like the
/// first.
async fn variants(
    cluster: &LocalCluster,
    name: &str,
    extra: &[&str],
    variants: &[Variant],
) -> Outcomes {
    let mut baseline: Option<Outcomes> = None;
    for &variant in variants {
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
    // As Chorex: Gateway in every turn's block; the same outcome.
    let global = every_variant(&cluster, "state-machine", &["global=1"]).await;
    assert_eq!(global, outcomes);
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

#[tokio::test]
async fn mini_blockchain_finds_nonce_242_in_every_variant() {
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
    for laps in ["0", "1", "7"] {
        let setting = format!("laps={laps}");
        let n: u64 = laps.parse().unwrap();
        let flat = variants(
            &cluster,
            "flat-loop",
            &[&setting],
            &[Variant::Baseline, Variant::Chk],
        )
        .await;
        let runner = flat.get("Runner").unwrap().as_ref().unwrap();
        assert!(
            runner.starts_with(&format!(r#"{{"laps":{},"works":{},"#, n + 1, n + 1)),
            "{runner}"
        );
        // CrashyLoop: N + 1 laps and crashes, the work after the recursive call, none in the
        // last lap.
        let crashy = variants(&cluster, "flat-loop", &[&setting], &[Variant::ChkCrash]).await;
        let runner = crashy.get("Runner").unwrap().as_ref().unwrap();
        assert!(
            runner.starts_with(&format!(r#"{{"laps":{},"works":{n},"#, n + 1)),
            "{runner}"
        );
    }
}

#[tokio::test]
async fn nest_loop_reaches_the_last_lap_in_every_variant() {
    let cluster = LocalCluster::new();
    for laps in ["0", "1", "2", "7"] {
        let outcomes = every_variant(&cluster, "nest-loop", &[&format!("laps={laps}")]).await;
        let n: u64 = laps.parse().unwrap();
        assert!(
            outcomes
                .get("Runner")
                .unwrap()
                .as_ref()
                .unwrap()
                .starts_with(&format!(r#"{{"laps":{},"runner":""#, n + 1)),
            "{outcomes}"
        );
    }
}

#[test]
fn bad_variants_and_too_many_laps_are_refused() {
    for (name, setting) in [
        ("state-machine", "variant=3"),
        ("state-machine", "global=2"),
        ("flat-loop", "laps=2000000000"),
        ("nest-loop", "laps=2000000000"),
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
        let key = setting.split('=').next().unwrap();
        assert!(err.contains(key), "{err}");
    }
}

#[test]
fn deep_nests_run_on_an_ordinary_stack() {
    // 501 nested blocks (nest-loop chk) and 501 nested calls (CrashyLoop), on a thread with a
    // test thread's 2 MiB stack (polled inline, as before bodies were tasks, a debug build
    // took about 20 KiB per level: about 100 levels).
    let deep = std::thread::Builder::new()
        .name("ordinary-stack".into())
        .stack_size(2 << 20)
        .spawn(|| {
            block_on(async {
                let cluster = LocalCluster::new();
                for (name, variant) in [("nest-loop", "variant=1"), ("flat-loop", "variant=2")] {
                    let settings = [variant.to_string(), "laps=500".into()];
                    check(&cluster, name, &settings).await;
                }
            })
        })
        .unwrap();
    deep.join().unwrap();
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
