//! The SRP scenario's oracles: the verdict and keys from the typed outputs, and what went on
//! the wire from the trace's sent payloads.
//!
//! `no-password-on-the-wire` does not trust Client's output alone to say what `x` was: it
//! also recomputes `x` (for the right and the wrong password) from every salt that Server put
//! on the wire (the registration offer and the login challenge, decoded from their frames),
//! so a run whose Client failed before returning is checked as well.

use rehearsal_sim::scenario::{Outputs, Params};
use rehearsal_sim::trace::Trace;
use serde::Deserialize;

use super::math;
use super::{Case, ClientEnd, Login, PASSWORD, ServerEnd, USER, Verdict, WRONG_PASSWORD};

/// A participant's view of [`Login`]: the other role's end is absent.
#[derive(Debug, Deserialize)]
pub(super) struct Seen {
    verdict: Verdict,
    client: Option<ClientEnd>,
    server: Option<ServerEnd>,
}

/// Both roles reach the case's verdict; on success both hold the same 256-bit key, on
/// rejection neither holds one.
pub(super) fn same_key_or_both_reject(p: &Params, outcomes: &Outputs<Seen>) -> Vec<String> {
    let expected = match Case::of(p.get("case")) {
        Ok(case) => case.expected(),
        Err(e) => return vec![e.to_string()],
    };
    let (client, server) = match (outcomes.of("Client"), outcomes.of("Server")) {
        (Ok(c), Ok(s)) => (c, s),
        (c, s) => return c.err().into_iter().chain(s.err()).collect(),
    };
    let mut violations = Vec::new();
    for (role, seen) in [("Client", client), ("Server", server)] {
        if seen.verdict != expected {
            violations.push(format!(
                "{role} ended with {:?}; expected {expected:?}",
                seen.verdict
            ));
        }
    }
    let keys = (
        client.client.as_ref().map(|e| e.key.clone()),
        server.server.as_ref().map(|e| e.key.clone()),
    );
    let (Some(client_key), Some(server_key)) = keys else {
        violations.push(format!(
            "a role's own end is missing from its outcome (Client: {:?}, Server: {:?})",
            client.client, server.server
        ));
        return violations;
    };
    match (expected, client_key, server_key) {
        (Verdict::Authenticated, Some(c), Some(s)) if c == s && c.len() == 64 => {}
        (Verdict::Authenticated, c, s) => violations.push(format!(
            "on success both must hold the same 32-byte key; Client holds {c:?}, Server {s:?}"
        )),
        (Verdict::Rejected(_), None, None) => {}
        (Verdict::Rejected(reason), c, s) => violations.push(format!(
            "rejected ({reason:?}), yet Client holds key {c:?} and Server {s:?}"
        )),
    }
    violations
}

/// No frame sent carries the password (right or wrong) or an `x`, big- or little-endian.
pub(super) fn no_password_on_the_wire(
    _: &Params,
    outcomes: &Outputs<Login>,
    trace: &Trace,
) -> Vec<String> {
    let mut secrets: Vec<(String, Vec<u8>)> = vec![
        ("the password".into(), PASSWORD.as_bytes().to_vec()),
        (
            "the wrong password".into(),
            WRONG_PASSWORD.as_bytes().to_vec(),
        ),
    ];
    let mut xs: Vec<Vec<u8>> = Vec::new();
    if let Ok(login) = outcomes.of("Client") {
        if let Some(end) = login.client.view() {
            xs.extend(end.derived_x.iter().filter_map(|x| math::unhex(x)));
        }
    }
    for salt in salts_on_the_wire(trace) {
        for password in [PASSWORD, WRONG_PASSWORD] {
            xs.push(math::private_key(&salt, USER, password).to_bytes_be());
        }
    }
    xs.sort();
    xs.dedup();
    for x in xs {
        let mut reversed = x.clone();
        reversed.reverse();
        secrets.push((format!("x ({}, big-endian)", math::hex(&x)), x));
        secrets.push(("x, little-endian".into(), reversed));
    }
    let mut violations = Vec::new();
    for e in trace.events.iter().filter(|e| e.kind == "send") {
        let Some(payload) = &e.payload else { continue };
        for (what, bytes) in &secrets {
            if !bytes.is_empty() && payload.windows(bytes.len()).any(|w| w == bytes.as_slice()) {
                violations.push(format!(
                    "frame {}->{} at {} carries {what}",
                    e.from.as_deref().unwrap_or("?"),
                    e.to.as_deref().unwrap_or("?"),
                    e.site.as_deref().unwrap_or("?")
                ));
            }
        }
    }
    violations
}

/// Every salt Server sent: in the registration offer and in the login challenge.
fn salts_on_the_wire(trace: &Trace) -> Vec<Vec<u8>> {
    let mut salts = Vec::new();
    for e in trace.events.iter().filter(|e| e.kind == "send") {
        let (Some(site), Some(payload)) = (&e.site, &e.payload) else {
            continue;
        };
        let salt = if site.starts_with("\"offer\"@") {
            postcard::from_bytes::<super::Offer>(payload)
                .ok()
                .map(|o| o.salt)
        } else if site.starts_with("\"challenge\"@") {
            postcard::from_bytes::<super::Challenge>(payload)
                .ok()
                .map(|c| c.salt)
        } else {
            None
        };
        salts.extend(salt);
    }
    salts
}
