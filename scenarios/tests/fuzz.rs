//! Fuzz targets, run as bounded property tests over arbitrary bytes (cargo-fuzz needs a
//! nightly compiler, which CI does not have): the fault-plan parser, the repro parser, the
//! runtime's frame decoder and opening a store file. Each target feeds both raw random bytes
//! and mutations of valid inputs (bit flips, cuts, insertions of tokens its grammar cares
//! about, splices of two inputs), so it reaches past the first syntax check. The property of
//! each: no panic, and what is accepted round-trips.
//!
//! The generator is seeded (a fixed ChaCha seed per target), so a run is the same run every
//! time; `REHEARSAL_FUZZ_CASES=N` runs N inputs per target instead of the default, and
//! `REHEARSAL_FUZZ_SEED=N` picks another seed for a longer hunt. Any crash found becomes a
//! regression test at the end of this file. Plans and repros need the simulator (their
//! sites come from a real run), so those targets run in sim mode; frames and stores run in
//! std mode, where the store is a real redb file.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Inputs for a target: `REHEARSAL_FUZZ_CASES` if set, else `default` (a few seconds in a
/// debug build).
fn cases(default: u32) -> u32 {
    std::env::var("REHEARSAL_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A runner of `cases` inputs with a pinned seed (`REHEARSAL_FUZZ_SEED` changes it); no
/// failure files.
fn runner_with(target: u8, cases: u32) -> TestRunner {
    let seed: u64 = std::env::var("REHEARSAL_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut key = [target; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key))
}

/// One edit of a mutated input; positions are taken modulo the input's length.
#[derive(Clone, Debug)]
enum Edit {
    /// XOR the byte at a position.
    Flip(usize, u8),
    /// Insert bytes at a position.
    Insert(usize, Vec<u8>),
    /// Insert one of the target's tokens at a position.
    Token(usize, usize),
    /// Remove up to `n` bytes at a position.
    Delete(usize, usize),
    /// Cut the input at a position.
    Truncate(usize),
    /// Replace the tail from a position with another valid input's tail from another.
    Splice(usize, usize, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        3 => (any::<usize>(), 1u8..).prop_map(|(p, x)| Edit::Flip(p, x)),
        2 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(p, b)| Edit::Insert(p, b)),
        4 => (any::<usize>(), any::<usize>()).prop_map(|(p, t)| Edit::Token(p, t)),
        2 => (any::<usize>(), 1usize..16).prop_map(|(p, n)| Edit::Delete(p, n)),
        1 => any::<usize>().prop_map(Edit::Truncate),
        1 => (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(i, a, b)| Edit::Splice(i, a, b)),
    ];
    proptest::collection::vec(edit, 1..6)
}

/// `corpus[pick]` with `edits` applied.
fn mutate(corpus: &[Vec<u8>], tokens: &[&[u8]], pick: usize, edits: &[Edit]) -> Vec<u8> {
    let mut b = corpus[pick % corpus.len()].clone();
    for e in edits {
        let at = |p: usize, len: usize| if len == 0 { 0 } else { p % (len + 1) };
        match e {
            Edit::Flip(p, x) => {
                if !b.is_empty() {
                    let i = p % b.len();
                    b[i] ^= x;
                }
            }
            Edit::Insert(p, bytes) => {
                let i = at(*p, b.len());
                b.splice(i..i, bytes.iter().copied());
            }
            Edit::Token(p, t) => {
                let i = at(*p, b.len());
                b.splice(i..i, tokens[t % tokens.len()].iter().copied());
            }
            Edit::Delete(p, n) => {
                if !b.is_empty() {
                    let i = p % b.len();
                    let end = (i + n).min(b.len());
                    b.drain(i..end);
                }
            }
            Edit::Truncate(p) => {
                let i = at(*p, b.len());
                b.truncate(i);
            }
            Edit::Splice(other, from, to) => {
                let o = &corpus[other % corpus.len()];
                let i = at(*from, b.len());
                let j = at(*to, o.len());
                b.truncate(i);
                b.extend_from_slice(&o[j..]);
            }
        }
    }
    b
}

/// Raw bytes, or a mutation of the corpus (three in four inputs).
fn inputs(
    corpus: Vec<Vec<u8>>,
    tokens: &'static [&'static [u8]],
) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..256),
        3 => (any::<usize>(), edits()).prop_map(move |(pick, e)| mutate(&corpus, tokens, pick, &e)),
    ]
}

/// Runs `target` over `cases` inputs of `strategy`; `target` says whether it accepted the
/// input. Prints how many inputs it tried, how many were accepted and how long it took.
fn fuzz<S: Strategy>(
    name: &str,
    seed: u8,
    cases: u32,
    strategy: S,
    target: impl Fn(S::Value) -> Result<bool, TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let accepted = std::sync::atomic::AtomicU64::new(0);
    let started = std::time::Instant::now();
    let result = runner_with(seed, cases).run(&strategy, |input| {
        if target(input)? {
            accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    });
    eprintln!(
        "fuzz {name}: {cases} inputs ({} accepted) in {:.1} s",
        accepted.into_inner(),
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("fuzz {name} found a failing input: {e}");
    }
}

#[cfg(madsim)]
mod text {
    //! The fault-plan and repro parsers, against the real sites of shipped scenarios.

    use super::*;
    use rehearsal_sim::repro::Repro;
    use rehearsal_sim::{FaultPlan, PlanContext, Sim};

    /// Tokens of TOML and of the plan and repro schemas, good and bad.
    const TOKENS: &[&[u8]] = &[
        b"\"",
        b"'",
        b"[",
        b"]",
        b"[[fault]]\n",
        b"{",
        b"}",
        b"=",
        b",",
        b"\n",
        b"#",
        b"\"\"\"",
        b"-1",
        b"0",
        b"18446744073709551616",
        b"9223372036854775808",
        b"1e309",
        b"nan",
        b"inf",
        b"-0.0",
        b"0.0000001",
        b"\"1s\"",
        b"\"-5ms\"",
        b"\"99999999999h\"",
        b"\"1.5\"",
        b"action = \"crash\"\n",
        b"action = \"panic\"\n",
        b"action = \"partition\"\n",
        b"action = \"pause\"\n",
        b"action = \"delay\"\n",
        b"action = \"disk\"\n",
        b"at = { site = \"title\", role = \"Seller\", occurrence = 1 }\n",
        b"at = { time = \"1s\" }\n",
        b"occurrence = 0",
        b"occurrence = 4294967296",
        b"groups = [[\"Buyer\"], []]\n",
        b"groups = [[\"Buyer\"], [\"Buyer\"]]\n",
        b"direction = \"sideways\"\n",
        b"restart_after = \"never\"\n",
        b"duration = 0\n",
        b"seed = \"x\"\n",
        b"seed = -3\n",
        b"time_limit_s = 0\n",
        b"time_limit_s = 1e300\n",
        b"[net]\nloss = 1.0\n",
        b"[net]\nlatency_min_us = -1\n",
        b"[net]\nlatency_max_us = 1e300\n",
        b"[params]\nbudget = -1\n",
        b"[params]\nbudget = \"18446744073709551615\"\n",
        b"scenario = \"nosuch\"\n",
        b"\xff\xfe",
        b"\x00",
        "\u{e9}".as_bytes(),
        "\u{1F600}".as_bytes(),
        b"\r\n",
        b"\t",
    ];

    fn context(name: &str) -> PlanContext {
        let s = rehearsal_scenarios::find(name).unwrap();
        Sim::plan_context(&s.program(&s.default_params()).unwrap()).unwrap()
    }

    /// The shipped plans and regressions.
    fn corpus() -> Vec<Vec<u8>> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fault-plans");
        let mut files = Vec::new();
        for dir in [root.clone(), root.join("regressions")] {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "toml") {
                    files.push(std::fs::read(path).unwrap());
                }
            }
        }
        files.sort();
        assert!(files.len() >= 5, "the corpus holds the shipped plans");
        files
    }

    #[test]
    fn the_fault_plan_parser_takes_any_bytes() {
        let contexts: Vec<PlanContext> = ["bookseller", "counter", "workers", "flat-loop"]
            .into_iter()
            .map(context)
            .collect();
        fuzz(
            "fault-plan parser",
            1,
            cases(10_000),
            (inputs(corpus(), TOKENS), 0..contexts.len()),
            |(bytes, c)| {
                let text = String::from_utf8_lossy(&bytes);
                let ctx = &contexts[c];
                match FaultPlan::parse(&text, "fuzz.toml", ctx) {
                    Ok(plan) => {
                        // What is accepted round-trips through its own TOML.
                        let again = FaultPlan::parse(&plan.to_toml(), "again.toml", ctx);
                        prop_assert_eq!(again.as_ref().ok(), Some(&plan), "{:?}", again);
                        Ok(true)
                    }
                    Err(e) => {
                        prop_assert!(e.line >= 1 && e.column >= 1, "{e}");
                        prop_assert!(e.line <= text.lines().count().max(1) + 1, "{e}");
                        prop_assert!(!e.message.is_empty());
                        Ok(false)
                    }
                }
            },
        );
    }

    #[test]
    fn the_repro_parser_takes_any_bytes() {
        fuzz(
            "repro parser",
            2,
            cases(10_000),
            inputs(corpus(), TOKENS),
            |bytes| {
                let text = String::from_utf8_lossy(&bytes);
                match Repro::header(&text, "fuzz.toml") {
                    Ok(h) => {
                        prop_assert!(!h.time_limit.is_zero());
                        prop_assert!(h.net.validate().is_ok(), "{:?}", h.net);
                        // A header that reads also reads its scenario's parameters without a panic.
                        if let Ok(s) = rehearsal_scenarios::find(&h.scenario) {
                            let _ = s.parse_params(h.params.iter().map(String::as_str));
                        }
                        Ok(true)
                    }
                    Err(e) => {
                        prop_assert!(e.line >= 1 && e.column >= 1, "{e}");
                        Ok(false)
                    }
                }
            },
        );
    }
}

#[cfg(not(madsim))]
mod binary {
    //! The runtime's frame decoder and store files, through its public API.

    use super::*;
    use std::borrow::Cow;

    use rehearsal::engine::notice::Control;
    use rehearsal::net::civ::{Civ, Lane};
    use rehearsal::net::link::{FrameKey, Packet};
    use rehearsal::net::transport::NodeId;
    use rehearsal::store::{Batch, FileStore, Store, Table};
    use rehearsal::{ParticipantId, SessionId, Site};

    /// Bytes that postcard's varints, lengths and tags care about.
    const TOKENS: &[&[u8]] = &[
        b"\x00",
        b"\x01",
        b"\x02",
        b"\x7f",
        b"\x80",
        b"\xff",
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
        b"\x80\x80\x80\x80\x10",
        b"\xfe\xff\xff\xff\x0f",
        b"\xc0\x80",
        b"\xed\xa0\x80",
    ];

    fn civ(seq: u64, label: Option<&'static str>, lane: Lane) -> Civ {
        Civ {
            session: SessionId(seq + 1),
            site: Site {
                file: Cow::Borrowed("scenarios/src/bookseller.rs"),
                line: 40 + (seq % 1_000) as u32,
                column: 7,
                label: label.map(Cow::Borrowed),
            },
            from: ParticipantId(0),
            to: ParticipantId(1),
            lane,
            seq,
            occurrence: seq / 2,
            epoch: seq % 3,
            ordered: seq % 2 == 0,
        }
    }

    /// Encoded packets of every shape: data frames, control frames, acknowledgements.
    fn packets() -> Vec<Vec<u8>> {
        let control = |c: &Control| postcard::to_stdvec(c).unwrap();
        let mut out = vec![
            Packet::Frame {
                civ: civ(0, Some("title"), Lane::Data),
                payload: b"\x04TAPL".to_vec(),
                ack: true,
            },
            Packet::Frame {
                civ: civ(7, None, Lane::Data),
                payload: vec![],
                ack: false,
            },
            Packet::Ack {
                key: FrameKey::of(&civ(3, None, Lane::Data)),
            },
            Packet::Ack {
                key: FrameKey::of(&civ(u64::MAX - 1, None, Lane::Control)),
            },
        ];
        let abort = rehearsal::ChoreoError::Closed {
            session: SessionId(1),
            participant: "Seller".into(),
        };
        out.push(Packet::Frame {
            civ: civ(2, None, Lane::Control),
            payload: control(&Control::Abort(abort)),
            ack: true,
        });
        out.iter().map(Packet::encode).collect()
    }

    #[test]
    fn the_frame_decoder_takes_any_bytes() {
        let corpus = packets();
        for p in &corpus {
            assert!(Packet::decode(NodeId(1), p).is_ok(), "the corpus decodes");
        }
        fuzz(
            "frame decoder",
            3,
            cases(20_000),
            inputs(corpus, TOKENS),
            |bytes| {
                match Packet::decode(NodeId(1), &bytes) {
                    Ok(packet) => {
                        // A decoded packet encodes to bytes that decode to it again.
                        let again = Packet::decode(NodeId(1), &packet.encode());
                        prop_assert_eq!(again.as_ref().ok(), Some(&packet));
                        if let Packet::Frame { payload, .. } = &packet {
                            // Control payloads come from peers too.
                            let _ = postcard::from_bytes::<Control>(payload);
                        }
                        Ok(true)
                    }
                    Err(e) => {
                        prop_assert_eq!(e.len, bytes.len());
                        Ok(false)
                    }
                }
            },
        );
    }

    /// The bytes of a store file holding a few records in every table.
    fn store_file(dir: &std::path::Path) -> Vec<u8> {
        let path = dir.join("seed.redb");
        {
            let store = FileStore::open(&path).unwrap();
            let mut batch = Batch::new();
            for (i, table) in Table::ALL.into_iter().enumerate() {
                for k in 0..3u8 {
                    batch.put(table, vec![i as u8, k], vec![k; 40]);
                }
            }
            store.commit(&batch).unwrap();
            store.sync().unwrap();
        }
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        bytes
    }

    #[test]
    fn opening_a_store_file_takes_any_bytes() {
        let dir = std::env::temp_dir().join(format!("rehearsal-fuzz-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let valid = store_file(&dir);
        // Store files are tens of kilobytes: mutations of the real one, and short raw files.
        let corpus = vec![
            valid.clone(),
            valid[..valid.len() / 2].to_vec(),
            vec![0; 4096],
        ];
        let path = dir.join("fuzz.redb");
        // The runtime catches redb's consistency panics while opening (they become
        // `StoreError::Corrupt`); keep their messages off the output while a store is opened
        // here, and only then: every other panic still prints.
        thread_local!(static OPENING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !OPENING.with(|o| o.get()) {
                hook(info);
            }
        }));
        // A store file is written, opened and read: fewer inputs than the in-memory targets.
        fuzz(
            "store open",
            4,
            (cases(5_000) / 10).max(1),
            inputs(corpus, TOKENS),
            |bytes| {
                std::fs::write(&path, &bytes).unwrap();
                // Opening never panics (the runtime turns redb's consistency panics into
                // `Corrupt`); what opens can be read in every table.
                OPENING.with(|o| o.set(true));
                let opened = std::panic::catch_unwind(|| {
                    FileStore::open(&path).map(|store| {
                        for table in Table::ALL {
                            let _ = store.scan(table, &[]);
                            let _ = store.get(table, &[0, 0]);
                        }
                    })
                });
                OPENING.with(|o| o.set(false));
                match opened {
                    Ok(result) => Ok(result.is_ok()),
                    Err(payload) => {
                        let message = payload
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        Err(TestCaseError::fail(format!(
                            "a store file of {} bytes panicked: {message}",
                            bytes.len()
                        )))
                    }
                }
            },
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Found by `opening_a_store_file_takes_any_bytes` (seed 4, `REHEARSAL_FUZZ_CASES=200000`:
    /// 20,000 store files): 13 bytes changed in the store file that [`store_file`] writes
    /// (3,686,400 bytes, the same every time for this redb and table layout) make
    /// `FileStore::open` panic with redb's "internal error: entered unreachable code" (in
    /// `UntypedBtree::visit_pages_helper`, from the commit in `FileStore::create_tables`).
    /// The runtime catches redb's panics only around `Builder::create`, so this one reaches
    /// the caller: a node restarting on a damaged store would crash instead of reporting
    /// `StoreError::Corrupt`. Fixed: every redb call of the store runs under one panic guard.
    #[test]
    fn regression_a_damaged_table_tree_is_corrupt_not_a_panic() {
        const EDITS: [(usize, u8); 13] = [
            (1588292, 0),
            (1588294, 16),
            (1588296, 0),
            (1588297, 0),
            (1588304, 255),
            (1588305, 255),
            (1588306, 232),
            (1588307, 3),
            (1588308, 0),
            (1588309, 0),
            (1588436, 255),
            (1588437, 255),
            (1589248, 0),
        ];
        let dir =
            std::env::temp_dir().join(format!("rehearsal-fuzz-regression-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut bytes = store_file(&dir);
        assert_eq!(
            bytes.len(),
            3_686_400,
            "the store layout changed: find the input again"
        );
        for (at, byte) in EDITS {
            bytes[at] = byte;
        }
        let path = dir.join("damaged.redb");
        std::fs::write(&path, &bytes).unwrap();
        let opened = std::panic::catch_unwind(|| FileStore::open(&path).map(|_| ()));
        std::fs::remove_dir_all(&dir).unwrap();
        // `Corrupt` is the expected answer; what must not happen is a panic.
        assert!(
            opened.is_ok(),
            "FileStore::open panicked on a damaged store file"
        );
    }
}
