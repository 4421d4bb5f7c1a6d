//! SRP's messages and each role's working state between steps, with the two login steps that
//! do the arithmetic: Client's proof and Server's check.

use std::collections::BTreeMap;

use num_bigint::BigUint;
use serde::{Deserialize, Serialize};

use super::math::{self, Digest32, hex, number};
use super::{Case, ClientEnd, PASSWORD, Reason, ServerEnd, USER, WRONG_PASSWORD};

/// The group Server names (RFC 5054 appendix A; Client knows no other).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum GroupId {
    Rfc5054Bits2048,
}

/// Registration, Server to Client: the salt to use and the group.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Offer {
    pub(super) salt: Vec<u8>,
    pub(super) group: GroupId,
}

/// Registration, Client to Server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Registration {
    pub(super) user: String,
    pub(super) salt: Vec<u8>,
    pub(super) verifier: Vec<u8>,
}

/// Login, Server to Client: the stored salt and `B` (`k` is derived from the group).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Challenge {
    pub(super) salt: Vec<u8>,
    pub(super) b_pub: Vec<u8>,
}

/// Login, Client's decision: abort, or `(A, M1)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) enum Proof {
    Abort,
    Present { a_pub: Vec<u8>, m1: Vec<u8> },
}

/// Login, Server's decision: reject, or `M2`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) enum Answer {
    Reject(Reason),
    Accept { m2: Vec<u8> },
}

/// Client's working state.
#[derive(Default)]
pub(super) struct ClientState {
    pub(super) end: ClientEnd,
    /// Registration's `x`.
    pub(super) x: Option<BigUint>,
    /// What the login sent (`A`, M1) and `S`; none if Client aborted.
    pub(super) sent: Option<(BigUint, Digest32, BigUint)>,
}

/// Server's working state.
#[derive(Default)]
pub(super) struct ServerState {
    pub(super) end: ServerEnd,
    /// The registered users: salt and verifier.
    pub(super) users: BTreeMap<String, (Vec<u8>, BigUint)>,
    pub(super) login: Option<Pending>,
    pub(super) key: Option<Digest32>,
}

/// Server's side of the login under way: `b`, `B` and the user's verifier.
pub(super) struct Pending {
    pub(super) b: BigUint,
    pub(super) b_pub: BigUint,
    pub(super) v: BigUint,
}

/// Client's login step: checks `B`, picks `a`, derives `x` from the password it logs in with,
/// and computes `S` and M1 (tampered in case 3). Leaves `sent` empty when it aborts.
pub(super) fn client_proof(
    mut st: ClientState,
    challenge: &Challenge,
    a_words: [u64; 4],
    case: Case,
) -> ClientState {
    let b_pub = number(&challenge.b_pub);
    st.end.b_pub = Some(hex(&challenge.b_pub));
    let a = number(&math::secret_bytes(a_words));
    st.end.a = Some(hex(&a.to_bytes_be()));
    let a_pub = math::client_public(&a);
    let u = math::scrambler(&a_pub, &b_pub);
    if math::is_degenerate(&b_pub) || u == BigUint::ZERO {
        return st;
    }
    let password = match case {
        Case::WrongPassword => WRONG_PASSWORD,
        _ => PASSWORD,
    };
    let x = math::private_key(&challenge.salt, USER, password);
    let x_hex = hex(&x.to_bytes_be());
    if !st.end.derived_x.contains(&x_hex) {
        st.end.derived_x.push(x_hex);
    }
    let s = math::client_premaster(&b_pub, &x, &a, &u);
    let mut m1 = math::client_proof(&a_pub, &b_pub, &s);
    if case == Case::TamperedM1 {
        flip_bit(&mut m1);
    }
    st.sent = Some((a_pub, m1, s));
    st
}

/// Server's check of `(A, M1)`: it rejects `A mod N = 0` and a wrong M1; otherwise it keeps
/// `K` and answers M2.
pub(super) fn server_check(st: &mut ServerState, a_pub: &BigUint, m1: &[u8]) -> Answer {
    let Some(Pending { b, b_pub, v }) = &st.login else {
        return Answer::Reject(Reason::UnknownUser);
    };
    if math::is_degenerate(a_pub) {
        return Answer::Reject(Reason::IllegalA);
    }
    let u = math::scrambler(a_pub, b_pub);
    let s = math::server_premaster(a_pub, v, &u, b);
    let expected = math::client_proof(a_pub, b_pub, &s);
    if m1 != expected.as_slice() {
        return Answer::Reject(Reason::BadClientProof);
    }
    st.key = Some(math::session_key(&s));
    Answer::Accept {
        m2: math::server_proof(a_pub, &expected, &s).to_vec(),
    }
}

pub(super) fn flip_bit(bytes: &mut [u8]) {
    if let Some(first) = bytes.first_mut() {
        *first ^= 1;
    }
}
