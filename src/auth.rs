//! Credentials, sans-io: password hashes (argon2id), random secrets, the
//! SHA-256 digests under which tokens and session ids are stored, and the
//! in-memory login rate limiter.
//!
//! Nothing here touches the catalog or HTTP: `catalog::users` stores what
//! these functions produce, and `http::auth` calls them. The limiter takes
//! the time as a parameter, so its tests need no clock and no sleeps.

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted, in bytes: far more than anyone types, and
/// small enough that hashing it costs nothing extra.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes `password` with argon2id (the crate's defaults: 19 MiB, two
/// passes, one lane, as OWASP recommends) and a fresh random salt. Returns
/// the PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), which
/// carries its own parameters, so they can be raised later without breaking
/// old hashes.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches the PHC string `phc`. A malformed hash is a
/// mismatch (and logged): it can only come from a broken catalog row.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let parsed = match PasswordHash::new(phc) {
        Ok(parsed) => parsed,
        Err(e) => {
            tracing::error!(error = %e, "stored password hash cannot be parsed");
            return false;
        }
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Verifies `password` against `phc`, or, when there is no such user
/// (`None`), against a dummy hash with the same parameters and returns
/// false: a wrong username costs as much time as a wrong password, so
/// response times do not tell which usernames exist.
pub fn verify_password_or_dummy(password: &str, phc: Option<&str>) -> bool {
    match phc {
        Some(phc) => verify_password(password, phc),
        None => {
            static DUMMY: OnceLock<Option<String>> = OnceLock::new();
            let dummy = DUMMY.get_or_init(|| hash_password("obrady dummy password").ok());
            if let Some(dummy) = dummy {
                verify_password(password, dummy);
            }
            false
        }
    }
}

/// Why a password is refused, in words for the person choosing it; `None`
/// when it is acceptable.
pub fn password_problem(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Some(format!(
            "the password is too short: {chars} characters, at least {MIN_PASSWORD_CHARS} needed"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Some(format!(
            "the password is too long: {} bytes, at most {MAX_PASSWORD_BYTES} allowed",
            password.len()
        ));
    }
    if password.trim().is_empty() {
        return Some("the password is only whitespace".into());
    }
    None
}

/// 32 bytes from the operating system's CSPRNG, base64url without padding
/// (43 characters): session ids, CSRF tokens, API tokens, generated
/// passwords.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Lower-case hex SHA-256 of `s`: how tokens and session ids are stored, so
/// a copy of the catalog holds nothing that logs anyone in. (A fast hash is
/// enough: the inputs are 256-bit random values, not passwords.)
pub fn sha256_hex(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    hex
}

/// Compares two secrets in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How many login attempts the limiter lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    /// The sliding window over which failures are counted.
    pub window: Duration,
    /// Failures per username in `window`: guessing one account's password.
    pub per_username: usize,
    /// Failures per client address in `window`: trying many accounts.
    pub per_client: usize,
    /// The most usernames and addresses tracked at once; beyond it the
    /// oldest are forgotten, so random names cannot exhaust memory.
    pub max_keys: usize,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            window: Duration::from_secs(15 * 60),
            per_username: 5,
            per_client: 20,
            max_keys: 10_000,
        }
    }
}

/// Whose attempts a list of timestamps counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Username(String),
    Client(String),
}

/// Counts failed logins per username and per client address in a sliding
/// window, in memory (a restart forgets them, which is fine: it does not
/// happen often enough to help an attacker).
///
/// Every attempt counts as a failure when it is let through
/// ([`LoginLimiter::attempt`]); [`LoginLimiter::succeeded`] takes it back.
/// Counting up front means concurrent attempts cannot all slip through
/// before the first failure is recorded.
#[derive(Debug)]
pub struct LoginLimiter {
    policy: LoginPolicy,
    /// Attempt times per key, oldest first, never more than the key's limit
    /// and never older than the window (pruned when the key is touched).
    attempts: HashMap<Key, VecDeque<Instant>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(LoginPolicy::default())
    }
}

impl LoginLimiter {
    pub fn new(policy: LoginPolicy) -> LoginLimiter {
        LoginLimiter {
            policy,
            attempts: HashMap::new(),
        }
    }

    /// Lets an attempt to log in as `username` from `client` through and
    /// counts it, or refuses it with how long to wait (at least a second)
    /// when either has used up its failures in the window.
    pub fn attempt(&mut self, username: &str, client: &str, now: Instant) -> Result<(), Duration> {
        let keys = [
            (Key::Username(username.to_owned()), self.policy.per_username),
            (Key::Client(client.to_owned()), self.policy.per_client),
        ];
        let mut wait = Duration::ZERO;
        for (key, limit) in &keys {
            if let Some(times) = self.attempts.get_mut(key) {
                prune(times, now, self.policy.window);
                if times.len() >= *limit {
                    if let Some(&oldest) = times.front() {
                        wait =
                            wait.max((oldest + self.policy.window).saturating_duration_since(now));
                    }
                }
            }
        }
        if !wait.is_zero() || keys.iter().any(|(_, limit)| *limit == 0) {
            return Err(wait.max(Duration::from_secs(1)));
        }
        for (key, limit) in keys {
            if !self.attempts.contains_key(&key) {
                self.make_room(now);
            }
            let times = self.attempts.entry(key).or_default();
            times.push_back(now);
            while times.len() > limit {
                times.pop_front();
            }
        }
        Ok(())
    }

    /// Takes back the attempt just let through: the password was right.
    /// The username's earlier failures are forgotten too (its owner knows
    /// the password); the client's are not (it may be trying many names).
    pub fn succeeded(&mut self, username: &str, client: &str) {
        self.attempts.remove(&Key::Username(username.to_owned()));
        let key = Key::Client(client.to_owned());
        if let Some(times) = self.attempts.get_mut(&key) {
            times.pop_back();
            if times.is_empty() {
                self.attempts.remove(&key);
            }
        }
    }

    /// How many usernames and addresses are tracked.
    pub fn tracked(&self) -> usize {
        self.attempts.len()
    }

    /// Before a new key is added: drops keys whose attempts are all outside
    /// the window, then, if still full, the key with the oldest last attempt.
    fn make_room(&mut self, now: Instant) {
        if self.attempts.len() < self.policy.max_keys {
            return;
        }
        let window = self.policy.window;
        self.attempts.retain(|_, times| {
            prune(times, now, window);
            !times.is_empty()
        });
        while self.attempts.len() >= self.policy.max_keys.max(1) {
            let stalest = self
                .attempts
                .iter()
                .min_by_key(|(_, times)| times.back().copied())
                .map(|(key, _)| key.clone());
            match stalest {
                Some(key) => self.attempts.remove(&key),
                None => break,
            };
        }
    }
}

/// Drops the attempts older than `window`.
fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|&t| now.saturating_duration_since(t) >= window)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_is_argon2id_salted_and_verifies() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify_password("correct horse battery", &a));
        assert!(verify_password("correct horse battery", &b));
        assert!(!verify_password("correct horse batterx", &a));
        assert!(!verify_password("", &a));
        assert!(!verify_password(
            "correct horse battery",
            "not a phc string"
        ));
        assert!(verify_password_or_dummy("correct horse battery", Some(&a)));
        assert!(!verify_password_or_dummy("correct horse battery", None));
    }

    #[test]
    fn password_rules_name_the_problem() {
        assert_eq!(
            password_problem("short").as_deref(),
            Some("the password is too short: 5 characters, at least 12 needed")
        );
        // Characters, not bytes: 12 Polish letters are 24 bytes.
        assert_eq!(password_problem("żółćżółćżółć"), None);
        assert_eq!(
            password_problem(&"x".repeat(1025)).as_deref(),
            Some("the password is too long: 1025 bytes, at most 1024 allowed")
        );
        assert_eq!(
            password_problem(&" ".repeat(12)).as_deref(),
            Some("the password is only whitespace")
        );
        assert_eq!(password_problem("twelve chars"), None);
    }

    #[test]
    fn random_tokens_are_43_base64url_chars_and_distinct() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }

    #[test]
    fn sha256_hex_matches_known_digests() {
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn limiter_blocks_a_username_after_five_failures_until_the_oldest_expires() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 0..5 {
            // Each from a different address: the username limit applies.
            limiter
                .attempt("admin", &format!("10.0.0.{i}"), t0 + i * MIN)
                .unwrap();
        }
        let wait = limiter
            .attempt("admin", "10.0.0.9", t0 + 5 * MIN)
            .unwrap_err();
        assert_eq!(
            wait,
            10 * MIN,
            "the first failure leaves the window at 15 min"
        );
        // Other names are unaffected.
        limiter
            .attempt("operator", "10.0.0.9", t0 + 5 * MIN)
            .unwrap();
        // A refused attempt is not counted: once the first failure is out
        // of the window, one attempt is allowed again.
        limiter.attempt("admin", "10.0.0.9", t0 + 15 * MIN).unwrap();
        assert_eq!(
            limiter
                .attempt("admin", "10.0.0.9", t0 + 15 * MIN)
                .unwrap_err(),
            MIN
        );
    }

    #[test]
    fn limiter_blocks_a_client_after_twenty_failures_across_usernames() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 0..20 {
            limiter
                .attempt(&format!("user{i}"), "192.0.2.7", t0)
                .unwrap();
        }
        let wait = limiter
            .attempt("someone", "192.0.2.7", t0 + MIN)
            .unwrap_err();
        assert_eq!(wait, 14 * MIN);
        limiter.attempt("someone", "192.0.2.8", t0 + MIN).unwrap();
        limiter
            .attempt("someone", "192.0.2.7", t0 + 15 * MIN)
            .unwrap();
    }

    #[test]
    fn limiter_wait_is_at_least_one_second() {
        let mut limiter = LoginLimiter::new(LoginPolicy {
            per_username: 1,
            ..LoginPolicy::default()
        });
        let t0 = Instant::now();
        limiter.attempt("admin", "c", t0).unwrap();
        let almost = t0 + Duration::from_secs(15 * 60) - Duration::from_millis(1);
        assert_eq!(
            limiter.attempt("admin", "c", almost).unwrap_err(),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn success_forgets_the_usernames_failures_but_not_the_clients() {
        let mut limiter = LoginLimiter::new(LoginPolicy {
            per_username: 3,
            per_client: 4,
            ..LoginPolicy::default()
        });
        let t0 = Instant::now();
        limiter.attempt("admin", "c", t0).unwrap();
        limiter.attempt("admin", "c", t0).unwrap();
        limiter.attempt("admin", "c", t0).unwrap();
        limiter.succeeded("admin", "c");
        // Two client failures left over; the success was taken back.
        limiter.attempt("admin", "c", t0).unwrap();
        limiter.attempt("admin", "c", t0).unwrap();
        assert!(limiter.attempt("admin", "c", t0).is_err(), "client at 4");
    }

    #[test]
    fn limiter_memory_is_bounded() {
        let mut limiter = LoginLimiter::new(LoginPolicy {
            max_keys: 10,
            ..LoginPolicy::default()
        });
        let t0 = Instant::now();
        for i in 0..100u32 {
            let at = t0 + Duration::from_secs(u64::from(i));
            limiter
                .attempt(&format!("u{i}"), &format!("c{i}"), at)
                .unwrap();
            assert!(limiter.tracked() <= 10, "{} keys", limiter.tracked());
        }
        // The stalest keys went first.
        assert!(limiter.attempts.contains_key(&Key::Username("u99".into())));
        assert!(!limiter.attempts.contains_key(&Key::Username("u0".into())));
    }
}
