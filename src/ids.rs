//! Identifier generation. Opaque, prefixed, random: peers must not parse them.

use rand::Rng;

const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A ULID: 48-bit millisecond time and 80 random bits, Crockford base32.
/// SDKs validate ids against this shape (e.g. the Python SDK accepts
/// `ULID` or `prefix_ULID`), so the harness's ids use it.
pub fn ulid() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
        & ((1u128 << 48) - 1);
    let rand: u128 = rand::thread_rng().gen::<u128>() & ((1u128 << 80) - 1);
    let mut v = (ms << 80) | rand;
    let mut out = [b'0'; 26];
    for slot in out.iter_mut().rev() {
        *slot = CROCKFORD[(v & 31) as usize];
        v >>= 5;
    }
    String::from_utf8(out.to_vec()).expect("ASCII")
}

fn token(prefix: &str) -> String {
    format!("{prefix}{}", ulid())
}

pub fn message_id() -> String {
    token("msg_")
}
pub fn session_id() -> String {
    token("sess_")
}
pub fn job_id() -> String {
    token("job_")
}
pub fn resume_token() -> String {
    format!("rt_{}{}", ulid(), ulid())
}
pub fn credential_id() -> String {
    token("cred_")
}
pub fn credential_value() -> String {
    format!("sk-virt-{}", ulid())
}
pub fn result_id() -> String {
    token("res_")
}
pub fn nonce() -> String {
    token("p_")
}

/// A W3C trace id: 32 lowercase hex digits.
pub fn trace_id() -> String {
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ulids_have_the_standard_shape() {
        let re = regex::Regex::new("^[0-7][0-9A-HJKMNP-TV-Z]{25}$").unwrap();
        for _ in 0..100 {
            assert!(re.is_match(&super::ulid()));
        }
        assert!(super::message_id().starts_with("msg_"));
    }
}
