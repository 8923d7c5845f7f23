//! Identifier generation. Opaque, prefixed, random: peers must not parse them.

use rand::Rng;

fn token(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::thread_rng();
    let body: String = (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{body}")
}

pub fn message_id() -> String {
    token("msg_", 20)
}
pub fn session_id() -> String {
    token("sess_", 20)
}
pub fn job_id() -> String {
    token("job_", 20)
}
pub fn resume_token() -> String {
    token("rt_", 32)
}
pub fn credential_id() -> String {
    token("cred_", 20)
}
pub fn credential_value() -> String {
    token("sk-virt-", 32)
}
pub fn result_id() -> String {
    token("res_", 20)
}
pub fn nonce() -> String {
    token("p_", 16)
}

/// A W3C trace id: 32 lowercase hex digits.
pub fn trace_id() -> String {
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap())
        .collect()
}
