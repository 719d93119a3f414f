//! SHA-512 crypt (`$6$`, Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512", the scheme of
//! glibc's `crypt(3)`), the one salted hash the Directory API accepts for passwords besides MD5
//! and SHA-1 (`hashFunction: "crypt"`, at most 10,000 rounds). `IssueSignInCredential` sends
//! Google this hash, never the password itself.
//!
//! The digest and the check are RustCrypto's `sha-crypt`; this module writes the crypt string as
//! glibc does (`rounds=` only when not the default, the salt as given), which `sha-crypt`'s own
//! hasher does not. Checked against the specification's test vectors, OpenSSL's `passwd -6` and
//! glibc.

use sha_crypt::{Params, PasswordVerifier, ShaCrypt};

/// Rounds when a hash names none; also what [`hash`] uses (Google accepts at most 10,000).
pub const DEFAULT_ROUNDS: u32 = Params::RECOMMENDED_ROUNDS;
/// Fewest rounds the scheme allows (smaller requests are raised to it).
pub const MIN_ROUNDS: u32 = Params::ROUNDS_MIN;
/// Most rounds the scheme allows.
pub const MAX_ROUNDS: u32 = Params::ROUNDS_MAX;
/// Longest salt used; longer salts are cut.
pub const MAX_SALT_LEN: usize = 16;

/// The alphabet of salts and of the encoded digest.
const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Byte triples of the digest in output order (the scheme's transposition).
const ORDER: [(usize, usize, usize); 21] = [
    (0, 21, 42),
    (22, 43, 1),
    (44, 2, 23),
    (3, 24, 45),
    (25, 46, 4),
    (47, 5, 26),
    (6, 27, 48),
    (28, 49, 7),
    (50, 8, 29),
    (9, 30, 51),
    (31, 52, 10),
    (53, 11, 32),
    (12, 33, 54),
    (34, 55, 13),
    (56, 14, 35),
    (15, 36, 57),
    (37, 58, 16),
    (59, 17, 38),
    (18, 39, 60),
    (40, 61, 19),
    (62, 20, 41),
];

/// A fresh random salt of [`MAX_SALT_LEN`] characters.
pub fn random_salt() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..MAX_SALT_LEN)
        .map(|_| char::from(ITOA64[rng.random_range(0..ITOA64.len())]))
        .collect()
}

/// `$6$salt$digest` of `password` with a fresh random salt and [`DEFAULT_ROUNDS`].
pub fn hash(password: &str) -> String {
    hash_with(password.as_bytes(), &random_salt(), DEFAULT_ROUNDS)
}

/// The crypt string of `password` with `salt` (cut to 16 bytes) and `rounds` (clamped to the
/// scheme's range); `rounds=` is written only when it differs from the default, as glibc does.
pub fn hash_with(password: &[u8], salt: &str, rounds: u32) -> String {
    let salt = &salt.as_bytes()[..salt.len().min(MAX_SALT_LEN)];
    let rounds = rounds.clamp(MIN_ROUNDS, MAX_ROUNDS);
    let params = Params::new(rounds).expect("rounds clamped to the scheme's range");
    let digest = sha_crypt::sha512_crypt(password, salt, params);
    let mut out = String::from("$6$");
    if rounds != DEFAULT_ROUNDS {
        out.push_str(&format!("rounds={rounds}$"));
    }
    out.push_str(&String::from_utf8_lossy(salt));
    out.push('$');
    for (a, b, c) in ORDER {
        encode24(&mut out, digest[a], digest[b], digest[c], 4);
    }
    encode24(&mut out, 0, 0, digest[63], 2);
    out
}

/// Whether `password` matches the crypt string `hashed` (`$6$[rounds=N$]salt$digest`); the
/// digests are compared in constant time.
pub fn verify(password: &str, hashed: &str) -> bool {
    hashed.starts_with("$6$")
        && ShaCrypt::SHA512
            .verify_password(password.as_bytes(), hashed)
            .is_ok()
}

/// Four (or, for the last byte, two) characters of [`ITOA64`] for three digest bytes.
fn encode24(out: &mut String, b2: u8, b1: u8, b0: u8, chars: usize) {
    let mut w = (u32::from(b2) << 16) | (u32::from(b1) << 8) | u32::from(b0);
    for _ in 0..chars {
        out.push(char::from(ITOA64[(w & 0x3f) as usize]));
        w >>= 6;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's test vectors (also what `openssl passwd -6` prints).
    #[test]
    fn matches_the_specification_vectors() {
        let vectors: &[(&str, u32, &str, &str)] = &[
            (
                "saltstring",
                5_000,
                "Hello world!",
                "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
            ),
            (
                "saltstringsaltstring",
                10_000,
                "Hello world!",
                "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
            ),
            (
                "toolongsaltstring",
                5_000,
                "This is just a test",
                "$6$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0",
            ),
        ];
        for (salt, rounds, password, expected) in vectors {
            assert_eq!(
                hash_with(password.as_bytes(), salt, *rounds),
                *expected,
                "salt {salt}"
            );
            assert!(verify(password, expected));
        }
    }

    /// Generated with `openssl passwd -6 -salt …` and Python's `crypt.crypt` (glibc): symbols,
    /// a password longer than the digest, short salts, rounds below and above the default.
    #[test]
    fn matches_openssl_and_glibc() {
        let long = "p".repeat(100);
        let vectors: &[(&str, u32, &str, &str)] = &[
            (
                "kLepMqmtVPLtxzpS",
                5_000,
                "Xy7#pQ2!vR9@wL4$",
                "$6$kLepMqmtVPLtxzpS$yhLBcNdQBlUFj5Kj5yRQZgMnaDbfF.QQ.o0LVMs0bWibhdJcRq3fhH8nfBocJDhJs5PbZJjFXbr4OOR3OpUjq0",
            ),
            (
                "ab./",
                5_000,
                &long,
                "$6$ab./$xPUkujRC9Ocfh1GSeMFED5m1dlnziJAjNyGGj2wLjnSlpbbgyqdlY6ujhf2zQkDzzCltVOnIInjdVlotwufaK/",
            ),
            (
                "shortsalt",
                1_000,
                "Xy7#pQ2!vR9@wL4$",
                "$6$rounds=1000$shortsalt$JkDVhT2JW/mwObTSKPqQWPBUQ37jzIJOWP6rY9OINhDC6ShIb.d5316N0NUtiKPYa9i8yLfwG5w/h0ufIuGwj/",
            ),
            (
                "x",
                9_999,
                "a",
                "$6$rounds=9999$x$MvMaI/GFbZrVpFidHfYBsTWg.elIa5fnoZz3A/utEGMhQk04Bf0MmlZTIyTy5RBThCaw9/SLumekNrlMa7pUs/",
            ),
        ];
        for (salt, rounds, password, expected) in vectors {
            assert_eq!(
                hash_with(password.as_bytes(), salt, *rounds),
                *expected,
                "salt {salt}"
            );
            assert!(verify(password, expected));
            assert!(!verify(&format!("{password}x"), expected));
        }
    }

    #[test]
    fn fresh_hashes_verify_and_are_salted() {
        let first = hash("correct horse battery staple");
        let second = hash("correct horse battery staple");
        assert_ne!(first, second, "two hashes of one password share a salt");
        assert!(first.starts_with("$6$"));
        assert!(verify("correct horse battery staple", &first));
        assert!(!verify("correct horse battery stapler", &first));
        assert!(!verify("correct horse battery staple", "$5$salt$abc"));
        assert!(!verify("x", "garbage"));
    }
}
