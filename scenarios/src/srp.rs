//! SRP-6a registration and login (Chorex's SRP example) over the RFC 5054 2048-bit group with
//! SHA-256. This file holds the choreography; the arithmetic is in [`math`], the messages and
//! the two login steps that compute in `steps`, what a run ends with in `outcome` (re-exported
//! here), the oracles in `oracles`.
//!
//! Registration: Server offers a fresh salt (and names the group); Client derives
//! `x = H(salt | H(user ":" password))` and sends `(user, salt, v = g^x)`; Server stores it and
//! decides whether registration succeeded (broadcast). Login: Client names its user; Server
//! looks it up and decides whether it knows it (broadcast); Server picks `b` and sends
//! `(salt, B)`; Client picks `a`, checks `B`, and sends `(A, M1)` or aborts (its decision,
//! broadcast); Server checks `A` and `M1` and either rejects or answers `M2` (its decision,
//! broadcast); Client checks `M2` (its decision, broadcast). On success both hold `K = H(S)`.
//! Every secret (salt, `a`, `b`) comes from four `ch.random` words (256 bits), logged, so a
//! replay sees the same secret. The password and `x` never leave Client: the
//! `no-password-on-the-wire` oracle checks every frame sent.
//!
//! The parameter `case` is the attacker: 0 an honest run, 1 Client logs in with a wrong
//! password, 2 with an unknown user, 3 flips a bit of M1 before it is sent, 4 flips a bit of
//! M2 before Client checks it, 5 Client sends `A = N`, 6 Server sends `B = N`. The hidden
//! scenario `planted-srp-leak` also sends the password (`leak=0`) or `x` (`leak=1`) to Server,
//! for testing the oracle.

pub mod math;
mod oracles;
mod outcome;
mod steps;

use rehearsal::{At, Choreo, ChoreoError, Choreography, Member, Role, Roles, roles};
use rehearsal_sim::scenario::{Param, Scenario, ScenarioBuilder};

use math::{hex, number, pad};
pub use outcome::{Case, ClientEnd, Login, Reason, ServerEnd, Verdict};
use steps::{
    Answer, Challenge, ClientState, GroupId, Offer, Pending, Proof, Registration, ServerState,
    client_proof, flip_bit, server_check,
};

roles!(Client, Server);

/// The user that registers.
pub const USER: &str = "alice";
/// Its password.
pub const PASSWORD: &str = "correct horse battery staple";
/// The password Client logs in with in case 1.
pub const WRONG_PASSWORD: &str = "correct horse battery stapler";
/// The user Client logs in as in case 2 (never registered).
pub const UNKNOWN_USER: &str = "mallory";

/// Parameters: which attack (none by default).
pub const PARAMS: &[Param] = &[Param {
    name: "case",
    default: 0,
    summary: "0 success, 1 wrong password, 2 unknown user, 3 tampered M1, 4 tampered M2, \
              5 Client sends A = N, 6 Server sends B = N",
}];

/// Parameters of `planted-srp-leak`.
pub const LEAK_PARAMS: &[Param] = &[Param {
    name: "leak",
    default: 0,
    summary: "what Client sends Server besides the protocol: 0 the password, 1 x",
}];

/// Oracles beyond the reference oracle.
pub const ORACLES: &[(&str, &str)] = &[
    (
        "same-key-or-both-reject",
        "both roles reach the verdict the case calls for; on success both hold the same \
         session key, on rejection neither holds one",
    ),
    (
        "no-password-on-the-wire",
        "no frame sent carries the password (right or wrong) or any x Client derived, as \
         bytes in either order",
    ),
];

/// What Client sends Server besides the protocol, in `planted-srp-leak` only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leak {
    /// Nothing (the shipped scenario).
    Nothing,
    /// The password's bytes.
    Password,
    /// `x`, big-endian.
    X,
}

/// The choreography.
#[derive(Clone, Debug)]
pub struct Srp {
    /// What the attacker does.
    pub case: Case,
    /// What leaks (test-only; [`Leak::Nothing`] in the shipped scenario).
    pub leak: Leak,
}

type Census = Roles![Client, Server];

impl Choreography for Srp {
    type Census = Census;
    type Output = Login;

    async fn run(self, ch: &Choreo<Census>) -> Result<Login, ChoreoError> {
        let case = self.case;
        // Registration.
        let salt = draw(ch, Server, "salt").await?;
        let offer = ch
            .locally(Server, |s| Offer {
                salt: math::secret_bytes(*s.get(&salt)),
                group: GroupId::Rfc5054Bits2048,
            })
            .await?;
        let offered = ch.at("offer").comm(Server, Client, &offer).await?;
        let client = ch
            .locally(Client, |c| {
                // Client knows one group only, the one Server names.
                let Offer {
                    salt,
                    group: GroupId::Rfc5054Bits2048,
                } = c.get(&offered);
                let x = math::private_key(salt, USER, PASSWORD);
                ClientState {
                    end: ClientEnd {
                        derived_x: vec![hex(&x.to_bytes_be())],
                        salt: hex(salt),
                        ..ClientEnd::default()
                    },
                    x: Some(x),
                    sent: None,
                }
            })
            .await?;
        let registration = ch
            .locally(Client, |c| {
                let st = c.get(&client);
                let x = st.x.clone().unwrap_or_default();
                Registration {
                    user: USER.to_string(),
                    salt: c.get(&offered).salt.clone(),
                    verifier: pad(&math::verifier(&x)),
                }
            })
            .await?;
        if self.leak != Leak::Nothing {
            let leaked = ch
                .locally(Client, |c| match self.leak {
                    Leak::X => c.get(&client).x.clone().unwrap_or_default().to_bytes_be(),
                    Leak::Password | Leak::Nothing => PASSWORD.as_bytes().to_vec(),
                })
                .await?;
            ch.at("leak").comm(Client, Server, &leaked).await?;
        }
        let registration = ch
            .at("register")
            .comm(Client, Server, &registration)
            .await?;
        let server = ch
            .locally(Server, |s| {
                let r = s.get(&registration);
                let v = number(&r.verifier);
                let mut st = ServerState::default();
                let valid = !r.user.is_empty()
                    && r.salt == s.get(&offer).salt
                    && v < math::group().n
                    && !math::is_degenerate(&v);
                if valid {
                    st.users.insert(r.user.clone(), (r.salt.clone(), v));
                }
                st
            })
            .await?;
        let registered = ch
            .locally(Server, |s| {
                let user = &s.get(&registration).user;
                s.get(&server).users.contains_key(user)
            })
            .await?;
        if !ch.at("registered").broadcast(Server, registered).await? {
            let verdict = Verdict::Rejected(Reason::RegistrationRefused);
            return finish(ch, verdict, client, server).await;
        }

        // Login.
        let user = ch
            .locally(Client, |_| match case {
                Case::UnknownUser => UNKNOWN_USER.to_string(),
                _ => USER.to_string(),
            })
            .await?;
        let user = ch.at("login").comm(Client, Server, &user).await?;
        let known = ch
            .locally(Server, |s| s.get(&server).users.contains_key(s.get(&user)))
            .await?;
        if !ch.at("lookup").broadcast(Server, known).await? {
            let verdict = Verdict::Rejected(Reason::UnknownUser);
            return finish(ch, verdict, client, server).await;
        }
        let b_words = draw(ch, Server, "b").await?;
        let login_user = &user;
        let server = ch
            .locally(Server, move |s| {
                let mut st = s.take(server);
                let (_, v) = st.users.get(s.get(login_user)).cloned().unwrap_or_default();
                let b = number(&math::secret_bytes(*s.get(&b_words)));
                let b_pub = match case {
                    Case::DegenerateB => math::group().n.clone(),
                    _ => math::server_public(&b, &v),
                };
                st.end.b = Some(hex(&b.to_bytes_be()));
                st.login = Some(Pending { b, b_pub, v });
                st
            })
            .await?;
        let challenge = ch
            .locally(Server, |s| {
                let st = s.get(&server);
                let salt = st.users.get(s.get(&user)).map(|r| r.0.clone());
                Challenge {
                    salt: salt.unwrap_or_default(),
                    b_pub: st.login.as_ref().map(|l| pad(&l.b_pub)).unwrap_or_default(),
                }
            })
            .await?;
        let challenge = ch.at("challenge").comm(Server, Client, &challenge).await?;
        let a_words = draw(ch, Client, "a").await?;
        let client = ch
            .locally(Client, move |c| {
                client_proof(c.take(client), c.get(&challenge), *c.get(&a_words), case)
            })
            .await?;
        let proof = ch
            .locally(Client, |c| match &c.get(&client).sent {
                None => Proof::Abort,
                Some((a_pub, m1, _)) => Proof::Present {
                    a_pub: match case {
                        Case::DegenerateA => pad(&math::group().n),
                        _ => pad(a_pub),
                    },
                    m1: m1.to_vec(),
                },
            })
            .await?;
        let Proof::Present { a_pub, m1 } = ch.at("proof").broadcast(Client, proof).await? else {
            let verdict = Verdict::Rejected(Reason::IllegalB);
            return finish(ch, verdict, client, server).await;
        };
        let checked = ch
            .locally(Server, move |s| {
                let mut st = s.take(server);
                let answer = server_check(&mut st, &number(&a_pub), &m1);
                (st, answer)
            })
            .await?;
        let answer = ch.locally(Server, |s| s.get(&checked).1.clone()).await?;
        let server = ch.locally(Server, move |s| s.take(checked).0).await?;
        let m2 = match ch.at("verdict").broadcast(Server, answer).await? {
            Answer::Accept { m2 } => m2,
            Answer::Reject(reason) => {
                return finish(ch, Verdict::Rejected(reason), client, server).await;
            }
        };
        let confirmed = ch
            .locally(Client, |c| {
                let mut m2 = m2.clone();
                if case == Case::TamperedM2 {
                    flip_bit(&mut m2);
                }
                match &c.get(&client).sent {
                    Some((a_pub, m1, s)) => {
                        m2.as_slice() == math::server_proof(a_pub, m1, s).as_slice()
                    }
                    None => false,
                }
            })
            .await?;
        let verdict = if ch.at("confirm").broadcast(Client, confirmed).await? {
            Verdict::Authenticated
        } else {
            Verdict::Rejected(Reason::BadServerProof)
        };
        finish(ch, verdict, client, server).await
    }
}

/// Four random words at `role` (a 256-bit secret), each drawn through `ch.random`.
async fn draw<R: Role + Member<Census, I>, I>(
    ch: &Choreo<Census>,
    role: R,
    label: &'static str,
) -> Result<At<[u64; 4], R>, ChoreoError> {
    let mut words = Vec::with_capacity(4);
    for _ in 0..4 {
        words.push(ch.at(label).random(role).await?);
    }
    ch.locally(role, move |r| {
        let mut out = [0u64; 4];
        for (o, w) in out.iter_mut().zip(&words) {
            *o = *r.get(w);
        }
        out
    })
    .await
}
/// Both roles' ends for `verdict`: the key only on success.
async fn finish(
    ch: &Choreo<Census>,
    verdict: Verdict,
    client: At<ClientState, Client>,
    server: At<ServerState, Server>,
) -> Result<Login, ChoreoError> {
    let ok = verdict == Verdict::Authenticated;
    let client = ch
        .locally(Client, move |c| {
            let st = c.take(client);
            let mut end = st.end;
            end.key = st
                .sent
                .filter(|_| ok)
                .map(|(_, _, s)| hex(&math::session_key(&s)));
            end
        })
        .await?;
    let server = ch
        .locally(Server, move |s| {
            let st = s.take(server);
            let mut end = st.end;
            end.key = st.key.filter(|_| ok).map(|k| hex(&k));
            end
        })
        .await?;
    Ok(Login {
        verdict,
        client,
        server,
    })
}

/// The scenario `srp`: parameter `case`; oracles [`ORACLES`].
pub fn scenario() -> ScenarioBuilder<Srp> {
    Scenario::new(
        "srp",
        "SRP-6a registration and login (RFC 5054 2048-bit group, SHA-256): both hold one key or both reject",
        |p| {
            Ok(Srp {
                case: Case::of(p.get("case"))?,
                leak: Leak::Nothing,
            })
        },
    )
    .roles(["Client", "Server"])
    .params(PARAMS.iter().copied())
    .range("case", 0, 6, "")
    .oracle_as::<oracles::Seen, _>(ORACLES[0].0, ORACLES[0].1, oracles::same_key_or_both_reject)
    .trace_oracle(ORACLES[1].0, ORACLES[1].1, oracles::no_password_on_the_wire)
}

/// The hidden scenario `planted-srp-leak`: an honest run that also sends Server the password
/// (`leak=0`) or `x` (`leak=1`), so `no-password-on-the-wire` must fail.
pub fn planted_leak() -> ScenarioBuilder<Srp> {
    Scenario::new(
        "planted-srp-leak",
        "TEST ONLY: SRP whose Client also sends Server the password or x (a planted leak)",
        |p| {
            Ok(Srp {
                case: Case::Success,
                leak: if p.get("leak") == 1 {
                    Leak::X
                } else {
                    Leak::Password
                },
            })
        },
    )
    .roles(["Client", "Server"])
    .params(LEAK_PARAMS.iter().copied())
    .range("leak", 0, 1, "")
    .oracle_as::<oracles::Seen, _>(ORACLES[0].0, ORACLES[0].1, oracles::same_key_or_both_reject)
    .trace_oracle(ORACLES[1].0, ORACLES[1].1, oracles::no_password_on_the_wire)
}
