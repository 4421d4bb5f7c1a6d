//! The TCP server in the simulator: scripted clients, one nested session per connection,
//! socket I/O as logged effects; the replies checked from the clients' own record.
#![cfg(madsim)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use rehearsal_scenarios::find;
use rehearsal_scenarios::tcp_server::{Served, expected_replies, script};
use rehearsal_sim::random::Swarm;
use rehearsal_sim::trace::Trace;
use rehearsal_sim::{Action, Fault, FaultKind, FaultPlan, Sim, SiteRef, Trigger};

/// The participants' nodes, in census order.
const NODES: [&str; 4] = ["Listener", "AcceptorPool", "Handler", "TcpClient"];

#[test]
fn fault_free_runs_answer_every_line_of_every_client() {
    let s = find("tcp-server").unwrap();
    for settings in [
        vec![],
        vec!["connections=1", "lines=0"],
        vec!["connections=5", "lines=9", "script=7"],
    ] {
        let params = s.parse_params(settings.iter().copied()).unwrap();
        for seed in 0..3 {
            let report = Sim::new(seed).run_scenario(s, &params).unwrap();
            assert!(
                report.passed(),
                "{params} seed {seed}: {}",
                report.summary()
            );
            let served: Served =
                serde_json::from_str(report.outcomes.get("TcpClient").unwrap().as_ref().unwrap())
                    .unwrap();
            assert_eq!(served.connections.len() as u64, params.get("connections"));
            for (i, c) in served.connections.iter().enumerate() {
                let rehearsal_scenarios::tcp_server::Connection::Closed(ended) = c else {
                    panic!("connection {i} refused: {c:?}");
                };
                let t = ended
                    .view()
                    .unwrap()
                    .client
                    .view()
                    .unwrap()
                    .as_ref()
                    .unwrap();
                let sent = script(&params).lines_of(i as u64);
                assert_eq!(t.sent, sent);
                assert_eq!(t.received, expected_replies(&sent));
            }
        }
    }
}

#[test]
fn the_oracles_catch_a_reply_written_twice_and_a_line_never_answered() {
    let s = find("tcp-server").unwrap();
    let params = s.default_params();
    let report = Sim::new(1).run_scenario(s, &params).unwrap();
    assert!(report.passed(), "{}", report.summary());
    let json = report.outcomes.get("TcpClient").unwrap().clone().unwrap();
    let reply = expected_replies(&script(&params).lines_of(0))[1].clone();
    for (tampered, oracle) in [
        // The second reply written twice.
        (
            json.replacen(
                &format!("\"{reply}\""),
                &format!("\"{reply}\",\"{reply}\""),
                1,
            ),
            "no-io-twice",
        ),
        // A read nobody answered.
        (
            json.replacen("\"reads\":5", "\"reads\":6", 1),
            "no-io-twice",
        ),
        // The first connection's second reply lost.
        (
            json.replacen(&format!("\"{reply}\","), "", 1),
            "replies-as-written",
        ),
    ] {
        assert_ne!(tampered, json);
        let entries = report
            .outcomes
            .entries()
            .iter()
            .map(|(p, o)| {
                let o = if p.role == "TcpClient" {
                    Ok(tampered.clone())
                } else {
                    o.clone()
                };
                (*p, o)
            })
            .collect();
        let outcomes = rehearsal::Outcomes::new(entries);
        let violations = s.check(&params, &outcomes, &outcomes);
        assert!(
            violations.iter().any(|v| v.starts_with(oracle)),
            "{oracle}: {violations:#?}"
        );
    }
}

fn plan(file: &str) -> FaultPlan {
    let s = find("tcp-server").unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fault-plans")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let program = s.program(&s.default_params()).unwrap();
    FaultPlan::parse(&text, file, &Sim::plan_context(&program).unwrap()).unwrap()
}

fn crash(site: &str, role: &str, occurrence: u32) -> FaultPlan {
    FaultPlan {
        faults: vec![Fault {
            trigger: Trigger::Site {
                site: SiteRef::Label(site.into()),
                role: Some(role.into()),
                occurrence,
            },
            action: Action::Crash {
                restart_after: Some(Duration::from_millis(200)),
            },
        }],
    }
}

#[test]
fn a_role_crashed_mid_connection_still_answers_every_line_once() {
    let s = find("tcp-server").unwrap();
    for (what, plan) in [
        (
            "Handler on the second line",
            plan("crash-handler-mid-connection.toml"),
        ),
        // As its read starts: nothing was read yet, so the replay reads the line.
        ("TcpClient reading", crash("read", "TcpClient", 4)),
        // Right after a write was logged: the replay does not write it again.
        ("TcpClient after a write", crash("reply", "TcpClient", 3)),
        ("Handler deciding", crash("more", "Handler", 6)),
    ] {
        for seed in 0..5 {
            let report = Sim::new(seed)
                .plan(plan.clone())
                .run_scenario(s, &s.default_params())
                .unwrap();
            assert_eq!(
                crashes_mid_connection(&report.trace),
                1,
                "{what}, seed {seed}: the crash hit a conversation"
            );
            assert!(report.passed(), "{what}, seed {seed}: {}", report.summary());
        }
    }
}

/// How many times a Handler or TcpClient crashed (its process killed, or a panic planted in
/// its code) while one of its nested sessions was open: between that session's start and
/// its end at that participant.
fn crashes_mid_connection(trace: &Trace) -> u64 {
    let root = trace
        .events
        .iter()
        .find(|e| e.kind == "session-start")
        .and_then(|e| e.session.clone());
    let mut open: BTreeSet<(String, String)> = BTreeSet::new();
    let mut crashes = 0;
    for e in &trace.events {
        let who = e.from.clone().unwrap_or_default();
        let session = e.session.clone();
        match e.kind {
            "session-start" if session != root => {
                open.insert((who, session.unwrap_or_default()));
            }
            "session-end" => {
                open.remove(&(who, session.unwrap_or_default()));
            }
            "kill" => {
                let Some(name) = NODES.get(e.node as usize) else {
                    continue;
                };
                if open.iter().any(|(p, _)| p == name)
                    && (*name == "Handler" || *name == "TcpClient")
                {
                    crashes += 1;
                }
            }
            "fault"
                if e.detail.as_deref().is_some_and(|d| d.starts_with("panic"))
                    && (who == "Handler" || who == "TcpClient")
                    && session != root =>
            {
                crashes += 1;
            }
            _ => {}
        }
    }
    crashes
}

/// Random plans of `kinds`, as `cargo rehearsal explore tcp-server --faults KINDS` draws them,
/// over `TCP_SERVER_SEEDS` seeds (default 200): prints how many seeds crashed a Handler or
/// TcpClient in the middle of a connection and which seeds violated an oracle; returns both.
fn explore(kinds: &[FaultKind], what: &str) -> (u64, Vec<u64>) {
    let s = find("tcp-server").unwrap();
    let params = s.default_params();
    let ctx = Sim::plan_context(&s.program(&params).unwrap()).unwrap();
    let swarm = Swarm {
        kinds: kinds.to_vec(),
        ..Swarm::default()
    };
    let seeds: u64 = std::env::var("TCP_SERVER_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let (mut hit, mut hit_passed, mut failed) = (0u64, 0u64, Vec::new());
    for seed in 0..seeds {
        let report = Sim::new(seed)
            .plan(swarm.plan(seed, &ctx))
            .run_scenario(s, &params)
            .unwrap();
        let crashed = crashes_mid_connection(&report.trace) > 0;
        hit += u64::from(crashed);
        if report.passed() {
            hit_passed += u64::from(crashed);
        } else {
            failed.push(seed);
        }
    }
    println!(
        "tcp-server, {seeds} seeds, --faults {what}: {hit} crashed a Handler or TcpClient mid-connection ({hit_passed} of them passed); {} seed(s) violated an oracle{}",
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" (first: {:?})", &failed[..failed.len().min(10)])
        }
    );
    (hit, failed)
}

#[test]
fn process_crashes_mid_connection_are_masked() {
    let kinds: Vec<FaultKind> = FaultKind::ALL
        .into_iter()
        .filter(|k| *k != FaultKind::Panic)
        .collect();
    let (hit, failed) = explore(&kinds, "crash,pause,delay,drop,duplicate,partition");
    assert!(hit > 0, "no seed crashed a conversation mid-connection");
    assert!(failed.is_empty(), "seeds {failed:?} violated an oracle");
}

/// Every fault kind, panics inside conversations included, is masked. With more seeds it
/// prints how many crashed a conversation mid-connection: `TCP_SERVER_SEEDS=10000 cargo
/// sim-nextest -p rehearsal-scenarios --test tcp_server --no-capture every_fault_kind`.
#[test]
fn every_fault_kind_mid_connection_is_masked() {
    let (hit, failed) = explore(&FaultKind::ALL, "all");
    assert!(hit > 0, "no seed crashed a conversation mid-connection");
    assert!(failed.is_empty(), "seeds {failed:?} violated an oracle");
}

#[test]
fn real_sockets_are_refused_in_the_simulator_with_a_clear_error() {
    let s = find("tcp-server").unwrap();
    let params = s.parse_params(["port=7878"]).unwrap();
    let e = s.program(&params).err().unwrap().to_string();
    assert!(e.contains("real sockets need a std-mode build"), "{e}");
    assert!(e.contains("--example tcp-server -- --port 7878"), "{e}");
}
