//! SRP-6a's arithmetic over the RFC 5054 2048-bit group with SHA-256, as the choreography
//! computes it at each role.
//!
//! Definitions (RFC 5054 section 2.6, with `PAD(v)` the big-endian bytes of `v` left-padded
//! with zeros to the length of `N`, 256 bytes, and `|` concatenation):
//!
//! * `x = H(salt | H(user | ":" | password))`, `v = g^x mod N`
//! * `k = H(N | PAD(g))`, `B = (k v + g^b) mod N`, `A = g^a mod N`
//! * `u = H(PAD(A) | PAD(B))`
//! * Client: `S = (B - k g^x)^(a + u x) mod N`; Server: `S = (A v^u)^b mod N`
//! * `M1 = H(PAD(A) | PAD(B) | PAD(S))`, `M2 = H(PAD(A) | M1 | PAD(S))`, `K = H(PAD(S))`
//!
//! M1 and M2 are the simple forms of SRP's design paper (`H(A, B, S)` and `H(A, M1, S)`), the
//! ones RustCrypto's `srp` crate computes, not RFC 2945's `H(H(N) xor H(g) | H(I) | s | A |
//! B | K)`; with padded operands they are what that crate computes whenever `A`, `B` and `S`
//! have no leading zero byte (the cross-check test pins such a run).

use std::sync::OnceLock;

use num_bigint::BigUint;
use sha2::{Digest, Sha256};

/// The RFC 5054 2048-bit group's prime `N` (appendix A), in hex.
pub const N_HEX: &str = concat!(
    "AC6BDB41324A9A9BF166DE5E1389582FAF72B6651987EE07FC3192943DB56050",
    "A37329CBB4A099ED8193E0757767A13DD52312AB4B03310DCD7F48A9DA04FD50",
    "E8083969EDB767B0CF6095179A163AB3661A05FBD5FAAAE82918A9962F0B93B8",
    "55F97993EC975EEAA80D740ADBF4FF747359D041D5C33EA71D281E446B14773B",
    "CA97B43A23FB801676BD207A436C6481F1D2B9078717461A5B9D32E688F87748",
    "544523B524B0D57D5EA77A2775D2ECFA032CFBDBF52FB3786160279004E57AE6",
    "AF874E7303CE53299CCC041C7BC308D82A5698F3A8D0C38271AE35F8E9DBFBB6",
    "94B5C803D89F7AE435DE236D525F54759B65E372FCD68EF20FA7111F9E4AFF73",
);

/// The group's generator.
pub const G: u32 = 2;

/// The length of `N` in bytes: every padded value has it.
pub const LEN: usize = 256;

/// A SHA-256 digest.
pub type Digest32 = [u8; 32];

/// The group: `N`, `g` and the multiplier `k`, computed once.
#[derive(Debug)]
pub struct Group {
    /// The prime.
    pub n: BigUint,
    /// The generator.
    pub g: BigUint,
    /// `k = H(N | PAD(g))`.
    pub k: BigUint,
}

/// The RFC 5054 2048-bit group.
pub fn group() -> &'static Group {
    static GROUP: OnceLock<Group> = OnceLock::new();
    GROUP.get_or_init(|| {
        let n = BigUint::parse_bytes(N_HEX.as_bytes(), 16).unwrap_or_default();
        let g = BigUint::from(G);
        let k = number(&hash(&[&pad(&n), &pad(&g)]));
        Group { n, g, k }
    })
}

/// SHA-256 of the concatenation of `parts`.
pub fn hash(parts: &[&[u8]]) -> Digest32 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// A digest (or any big-endian bytes) as a number.
pub fn number(bytes: &[u8]) -> BigUint {
    BigUint::from_bytes_be(bytes)
}

/// `PAD(v)`: `v`'s big-endian bytes left-padded to [`LEN`] (a value longer than `N` keeps its
/// length; the callers reduce mod `N` first, except a tampered value, which is sent as is).
pub fn pad(v: &BigUint) -> Vec<u8> {
    let bytes = v.to_bytes_be();
    let mut out = vec![0u8; LEN.saturating_sub(bytes.len())];
    out.extend_from_slice(&bytes);
    out
}

/// A 256-bit secret (an exponent or a salt) from four random words, big-endian.
pub fn secret_bytes(words: [u64; 4]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// `x = H(salt | H(user | ":" | password))`.
pub fn private_key(salt: &[u8], user: &str, password: &str) -> BigUint {
    let identity = hash(&[user.as_bytes(), b":", password.as_bytes()]);
    number(&hash(&[salt, &identity]))
}

/// `v = g^x mod N`.
pub fn verifier(x: &BigUint) -> BigUint {
    let gr = group();
    gr.g.modpow(x, &gr.n)
}

/// `A = g^a mod N`.
pub fn client_public(a: &BigUint) -> BigUint {
    let gr = group();
    gr.g.modpow(a, &gr.n)
}

/// `B = (k v + g^b) mod N`.
pub fn server_public(b: &BigUint, v: &BigUint) -> BigUint {
    let gr = group();
    (&gr.k * v + gr.g.modpow(b, &gr.n)) % &gr.n
}

/// Whether `value mod N` is 0: SRP aborts on such an `A` (at Server) or `B` (at Client).
pub fn is_degenerate(value: &BigUint) -> bool {
    value % &group().n == BigUint::ZERO
}

/// `u = H(PAD(A) | PAD(B))`.
pub fn scrambler(a_pub: &BigUint, b_pub: &BigUint) -> BigUint {
    number(&hash(&[&pad(a_pub), &pad(b_pub)]))
}

/// Client's `S = (B - k g^x)^(a + u x) mod N`.
pub fn client_premaster(b_pub: &BigUint, x: &BigUint, a: &BigUint, u: &BigUint) -> BigUint {
    let gr = group();
    let kgx = (&gr.k * gr.g.modpow(x, &gr.n)) % &gr.n;
    // B - k g^x mod N, kept non-negative.
    let base = (b_pub % &gr.n + &gr.n - kgx) % &gr.n;
    base.modpow(&(a + u * x), &gr.n)
}

/// Server's `S = (A v^u)^b mod N`.
pub fn server_premaster(a_pub: &BigUint, v: &BigUint, u: &BigUint, b: &BigUint) -> BigUint {
    let gr = group();
    ((a_pub * v.modpow(u, &gr.n)) % &gr.n).modpow(b, &gr.n)
}

/// `M1 = H(PAD(A) | PAD(B) | PAD(S))`: Client's proof.
pub fn client_proof(a_pub: &BigUint, b_pub: &BigUint, s: &BigUint) -> Digest32 {
    hash(&[&pad(a_pub), &pad(b_pub), &pad(s)])
}

/// `M2 = H(PAD(A) | M1 | PAD(S))`: Server's proof.
pub fn server_proof(a_pub: &BigUint, m1: &Digest32, s: &BigUint) -> Digest32 {
    hash(&[&pad(a_pub), m1, &pad(s)])
}

/// `K = H(PAD(S))`: the session key.
pub fn session_key(s: &BigUint) -> Digest32 {
    hash(&[&pad(s)])
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of lower-case or upper-case hex `text`; `None` if it is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_is_rfc_5054s_2048_bit_one() {
        let gr = group();
        assert_eq!(gr.n.bits(), 2048);
        assert_eq!(pad(&gr.n).len(), LEN);
        // N is a safe prime: 2^(N-1) = 1 mod N (a Fermat check).
        let one = BigUint::from(1u32);
        assert_eq!(gr.g.modpow(&(&gr.n - &one), &gr.n), one);
    }

    #[test]
    fn both_sides_derive_the_same_premaster_secret() {
        let salt = secret_bytes([1, 2, 3, 4]);
        let x = private_key(&salt, "alice", "password123");
        let v = verifier(&x);
        let a = number(&secret_bytes([5, 6, 7, 8]));
        let b = number(&secret_bytes([9, 10, 11, 12]));
        let (a_pub, b_pub) = (client_public(&a), server_public(&b, &v));
        let u = scrambler(&a_pub, &b_pub);
        let s = client_premaster(&b_pub, &x, &a, &u);
        assert_eq!(s, server_premaster(&a_pub, &v, &u, &b));
        let wrong = private_key(&salt, "alice", "password124");
        assert_ne!(client_premaster(&b_pub, &wrong, &a, &u), s);
    }

    #[test]
    fn degenerate_values_are_multiples_of_n() {
        let n = &group().n;
        assert!(is_degenerate(&BigUint::ZERO));
        assert!(is_degenerate(n));
        assert!(is_degenerate(&(n * 3u32)));
        assert!(!is_degenerate(&(n + 1u32)));
    }

    #[test]
    fn hex_round_trips_and_rejects_non_hex() {
        assert_eq!(
            unhex(&hex(&[0, 1, 0xab, 0xff])),
            Some(vec![0, 1, 0xab, 0xff])
        );
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
