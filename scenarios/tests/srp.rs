//! SRP in the simulator: each outcome (success, wrong password, unknown user, tampered M1 or
//! M2, degenerate A or B) at both roles; the no-password oracle catches a planted leak; the
//! session key and proofs equal what RustCrypto's `srp` crate computes from the same
//! secrets; a short exploration under every fault kind finds nothing.
#![cfg(madsim)]

use std::time::Duration;

use rehearsal_scenarios::find;
use rehearsal_scenarios::srp::math::{self, hex, unhex};
use rehearsal_scenarios::srp::{ClientEnd, PASSWORD, Reason, ServerEnd, USER, Verdict};
use rehearsal_sim::explore::{Explore, Shard};
use rehearsal_sim::report::Report;
use rehearsal_sim::scenario::Outputs;
use rehearsal_sim::{FaultKind, Sim, Swarm};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use srp::client::SrpClient;
use srp::groups::G_2048;
use srp::server::SrpServer;

/// A role's view of the outcome.
#[derive(Debug, Deserialize)]
struct Seen {
    verdict: Verdict,
    client: Option<ClientEnd>,
    server: Option<ServerEnd>,
}

fn run(name: &str, settings: &[&str], seed: u64) -> Report {
    let scenario = find(name).unwrap();
    let params = scenario.parse_params(settings.iter().copied()).unwrap();
    Sim::new(seed).run_scenario(scenario, &params).unwrap()
}

/// Runs `srp` with `case`; every oracle holds; both roles' verdicts and ends.
fn ends(case: u64, seed: u64) -> (Verdict, ClientEnd, ServerEnd, Report) {
    let report = run("srp", &[&format!("case={case}")], seed);
    assert!(report.passed(), "{}", report.summary());
    let outputs = Outputs::<Seen>::decode(&report.outcomes);
    let client = outputs.of("Client").unwrap();
    let server = outputs.of("Server").unwrap();
    assert_eq!(client.verdict, server.verdict, "{}", report.summary());
    assert!(client.server.is_none() && server.client.is_none());
    (
        client.verdict,
        client.client.clone().unwrap(),
        server.server.clone().unwrap(),
        report,
    )
}

fn rejected(case: u64, reason: Reason) -> (ClientEnd, ServerEnd) {
    let (verdict, client, server, report) = ends(case, 7);
    assert_eq!(verdict, Verdict::Rejected(reason), "{}", report.summary());
    assert_eq!((&client.key, &server.key), (&None, &None));
    (client, server)
}

#[test]
fn an_honest_login_gives_both_roles_the_same_key() {
    let (verdict, client, server, _) = ends(0, 7);
    assert_eq!(verdict, Verdict::Authenticated);
    let key = client.key.clone().unwrap();
    assert_eq!(key.len(), 64);
    assert_eq!(server.key.as_deref(), Some(key.as_str()));
    assert_eq!(client.derived_x.len(), 1, "one password, one x");
    // Secrets come from the run's draws: another seed, another key.
    let (_, other, _, _) = ends(0, 8);
    assert_ne!(other.key, client.key);
}

#[test]
fn a_wrong_password_fails_the_client_proof_at_both() {
    let (client, server) = rejected(1, Reason::BadClientProof);
    assert_eq!(
        client.derived_x.len(),
        2,
        "registration's x and the wrong one"
    );
    assert!(server.b.is_some());
}

#[test]
fn an_unknown_user_is_refused_before_any_secret_is_picked() {
    let (client, server) = rejected(2, Reason::UnknownUser);
    assert_eq!((client.a, client.b_pub, server.b), (None, None, None));
}

#[test]
fn a_tampered_m1_fails_the_client_proof_at_both() {
    rejected(3, Reason::BadClientProof);
}

#[test]
fn a_tampered_m2_fails_the_server_proof_at_both() {
    let (client, server) = rejected(4, Reason::BadServerProof);
    assert!(client.a.is_some() && server.b.is_some());
}

#[test]
fn degenerate_public_values_are_refused() {
    rejected(5, Reason::IllegalA);
    let (client, _) = rejected(6, Reason::IllegalB);
    assert_eq!(
        client.b_pub.as_deref(),
        Some(hex(&math::pad(&math::group().n)).as_str()),
        "Server sent B = N"
    );
}

#[test]
fn the_oracle_names_the_frame_that_leaks_the_password_or_x() {
    for (leak, what) in [(0, "carries the password"), (1, "carries x (")] {
        let report = run("planted-srp-leak", &[&format!("leak={leak}")], 7);
        let leaks: Vec<&String> = report
            .violations
            .iter()
            .filter(|v| v.starts_with("no-password-on-the-wire: "))
            .collect();
        assert_eq!(leaks.len(), 1, "{}", report.summary());
        assert!(
            leaks[0].contains("frame Client->Server at \"leak\"@scenarios/src/srp.rs:")
                && leaks[0].contains(what),
            "{}",
            leaks[0]
        );
        assert_eq!(report.violations.len(), 1, "{}", report.summary());
    }
}

/// The payload of the first frame sent at `label`.
fn payload(report: &Report, label: &str) -> Vec<u8> {
    let site = format!("\"{label}\"@");
    let e = report
        .trace
        .events
        .iter()
        .find(|e| e.kind == "send" && e.site.as_deref().is_some_and(|s| s.starts_with(&site)))
        .unwrap_or_else(|| panic!("no frame sent at {label}"));
    e.payload.as_deref().unwrap().to_vec()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn keys_and_proofs_match_rustcryptos_srp_from_the_same_secrets() {
    assert_eq!(math::group().n, G_2048.n);
    assert_eq!(math::group().g, G_2048.g);
    let (_, client, server, report) = ends(0, 7);
    let a = unhex(client.a.as_deref().unwrap()).unwrap();
    let b = unhex(server.b.as_deref().unwrap()).unwrap();
    let salt = unhex(&client.salt).unwrap();
    let b_pub = unhex(client.b_pub.as_deref().unwrap()).unwrap();
    let srp_client = SrpClient::<Sha256>::new(&G_2048);
    let v = srp_client.compute_verifier(USER.as_bytes(), PASSWORD.as_bytes(), &salt);
    let a_pub = srp_client.compute_public_ephemeral(&a);
    // The crate hashes unpadded values: the same as ours when none has a leading zero byte,
    // which holds at this seed.
    assert_eq!((a_pub.len(), b_pub.len()), (math::LEN, math::LEN));
    let expected_b = SrpServer::<Sha256>::new(&G_2048).compute_public_ephemeral(&b, &v);
    assert_eq!(expected_b, b_pub, "B = k v + g^b");
    let theirs = srp_client
        .process_reply(&a, USER.as_bytes(), PASSWORD.as_bytes(), &salt, &b_pub)
        .unwrap();
    assert_eq!(theirs.key().len(), math::LEN);
    let key = hex(&Sha256::digest(theirs.key()));
    assert_eq!(client.key.as_deref(), Some(key.as_str()));
    assert_eq!(server.key.as_deref(), Some(key.as_str()));
    let server_side = SrpServer::<Sha256>::new(&G_2048)
        .process_reply(&b, &v, &a_pub)
        .unwrap();
    assert_eq!(server_side.key(), theirs.key());
    server_side.verify_client(theirs.proof()).unwrap();
    assert!(
        contains(&payload(&report, "proof"), &a_pub),
        "A on the wire"
    );
    assert!(contains(&payload(&report, "proof"), theirs.proof()), "M1");
    assert!(
        contains(&payload(&report, "verdict"), server_side.proof()),
        "M2"
    );
    assert!(contains(&payload(&report, "register"), &v), "v");
}

#[test]
fn two_hundred_seeds_under_every_fault_kind_find_nothing() {
    let scenario = find("srp").unwrap();
    let ex = Explore {
        scenarios: vec![(scenario.clone(), scenario.default_params())],
        first_seed: 0,
        seeds: 200,
        shard: Shard::ALL,
        jobs: 2,
        swarm: Swarm {
            kinds: FaultKind::ALL.to_vec(),
            ..Swarm::default()
        },
        keep_going: true,
        time_limit: Duration::from_secs(120),
        check_determinism: true,
        vary: None,
        store: Default::default(),
    };
    let summary = ex.run(&|_| {}).unwrap();
    assert_eq!(summary[0].seeds, 200);
    assert_eq!(
        summary[0].violations,
        0,
        "{:?}",
        summary[0].failures.first().map(|f| f.seed)
    );
    assert!(
        summary[0].fired.values().sum::<u64>() > 0,
        "faults fired: {:?}",
        summary[0].fired
    );
}
