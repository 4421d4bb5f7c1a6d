//! What an SRP run ends with: the attack the parameter picks, the verdict both roles agree
//! on, and each role's own end.

use rehearsal::{At, ChoreoError};
use serde::{Deserialize, Serialize};

use super::{Client, Server};

/// What the attacker does (parameter `case`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Case {
    /// Nothing: the honest run.
    Success,
    /// Client logs in with [`WRONG_PASSWORD`](super::WRONG_PASSWORD).
    WrongPassword,
    /// Client logs in as [`UNKNOWN_USER`](super::UNKNOWN_USER).
    UnknownUser,
    /// A bit of M1 flips before Client sends it.
    TamperedM1,
    /// A bit of M2 flips before Client checks it.
    TamperedM2,
    /// Client sends `A = N` (0 mod N, which would force Server's `S` to 0).
    DegenerateA,
    /// Server sends `B = N` (0 mod N).
    DegenerateB,
}

impl Case {
    /// Every case, by parameter value.
    pub const ALL: [Case; 7] = [
        Case::Success,
        Case::WrongPassword,
        Case::UnknownUser,
        Case::TamperedM1,
        Case::TamperedM2,
        Case::DegenerateA,
        Case::DegenerateB,
    ];

    /// The case of parameter value `n`.
    pub fn of(n: u64) -> Result<Case, ChoreoError> {
        usize::try_from(n)
            .ok()
            .and_then(|i| Case::ALL.get(i).copied())
            .ok_or_else(|| ChoreoError::Census {
                detail: format!("srp: case {n} is unknown; expected 0 to 6"),
            })
    }

    /// The verdict both roles must reach.
    pub fn expected(self) -> Verdict {
        Verdict::Rejected(match self {
            Case::Success => return Verdict::Authenticated,
            Case::WrongPassword | Case::TamperedM1 => Reason::BadClientProof,
            Case::UnknownUser => Reason::UnknownUser,
            Case::TamperedM2 => Reason::BadServerProof,
            Case::DegenerateA => Reason::IllegalA,
            Case::DegenerateB => Reason::IllegalB,
        })
    }
}

/// The verdict both roles agree on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Each proved it knows the shared secret: both hold the same session key.
    Authenticated,
    /// The protocol stopped.
    Rejected(Reason),
}

/// Why the protocol stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    /// Server refused the registration (an empty user, another salt than offered, or a
    /// verifier outside 1..N).
    RegistrationRefused,
    /// Server has no record of the user.
    UnknownUser,
    /// Client aborted: `B mod N` is 0 (or `u` is 0).
    IllegalB,
    /// Server aborted: `A mod N` is 0.
    IllegalA,
    /// Server found M1 wrong: a wrong password or a tampered M1 (Server cannot tell which).
    BadClientProof,
    /// Client found M2 wrong.
    BadServerProof,
}

/// Client's end of a run (hex strings), returned for the oracles and tests: a deployment would
/// keep only `key`. None of it is ever sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientEnd {
    /// `K`, on success only.
    pub key: Option<String>,
    /// Every `x` Client derived from a password (registration's, then login's), big-endian.
    pub derived_x: Vec<String>,
    /// The salt Server offered.
    pub salt: String,
    /// Client's secret `a`, once picked.
    pub a: Option<String>,
    /// Server's `B` as received, once received.
    pub b_pub: Option<String>,
}

/// Server's end of a run (hex strings), returned for the oracles and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerEnd {
    /// `K`, on success only.
    pub key: Option<String>,
    /// Server's secret `b`, once picked.
    pub b: Option<String>,
}

/// What both roles end with: the agreed verdict and each role's own end.
#[derive(Debug, Serialize, Deserialize)]
pub struct Login {
    /// The verdict (every role's decision was broadcast, so both hold the same one).
    pub verdict: Verdict,
    /// Client's end.
    pub client: At<ClientEnd, Client>,
    /// Server's end.
    pub server: At<ServerEnd, Server>,
}
