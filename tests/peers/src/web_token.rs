//! Web login tokens that the MWAA server mints and the Airflow web server checks, as MWAA's web
//! server checks the tokens of `CreateWebLoginToken`: minted for one environment (its host),
//! valid 60 s, usable once.
//!
//! A token is `base64url(claims JSON) "." base64url(HMAC-SHA256(key, claims))`; both servers
//! share the key (the sandbox passes it to the web server), so the web server can tell a token
//! the MWAA server minted from anything else.

use std::time::{SystemTime, UNIX_EPOCH};

use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// How long a web login token is valid, as MWAA's.
pub const TOKEN_LIFETIME_SECS: u64 = 60;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The environment's name.
    pub env: String,
    pub account: String,
    pub region: String,
    /// The web server host name the token is for (`WebServerHostname`).
    pub host: String,
    /// The IAM identity it was minted for.
    pub identity: String,
    /// Seconds since the Unix epoch after which it is refused.
    pub expires_at: u64,
    /// Distinguishes tokens minted in the same second.
    pub nonce: u64,
}

/// Why the web server refused a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("not a web login token")]
    Malformed,
    #[error("signature does not match: not minted by this MWAA server")]
    BadSignature,
    #[error("expired {0} s ago")]
    Expired(u64),
    #[error("minted for {minted_for}, presented to {presented_to}")]
    WrongHost {
        minted_for: String,
        presented_to: String,
    },
    #[error("already used")]
    Reused,
}

/// The key both servers share.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenKey([u8; 32]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

impl TokenKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> TokenKey {
        let mut key = [0u8; 32];
        let random = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut key));
        if random.is_err() {
            // No /dev/urandom (not Linux): a key that differs per process and instant.
            let seed = format!("{:?}{}", SystemTime::now(), std::process::id());
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(seed.as_bytes())
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
            mac.update(b"airgate web token key");
            key.copy_from_slice(&mac.finalize().into_bytes());
        }
        TokenKey(key)
    }

    /// The key as hex, to pass it to another process.
    pub fn to_hex(&self) -> String {
        HEXLOWER.encode(&self.0)
    }

    pub fn from_hex(hex: &str) -> Option<TokenKey> {
        let bytes = HEXLOWER.decode(hex.trim().as_bytes()).ok()?;
        Some(TokenKey(bytes.try_into().ok()?))
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
    }

    /// A signed token carrying `claims`.
    pub fn mint(&self, claims: &TokenClaims) -> String {
        let body = serde_json::to_vec(claims).unwrap_or_default();
        let mut mac = self.mac();
        mac.update(&body);
        let signature = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            BASE64URL_NOPAD.encode(&body),
            BASE64URL_NOPAD.encode(&signature)
        )
    }

    /// The claims of `token` when its signature is this key's and it is unexpired at `now`
    /// (seconds since the epoch). The host and single use are the web server's to check.
    pub fn verify(&self, token: &str, now: u64) -> Result<TokenClaims, Rejection> {
        let (body, signature) = token.trim().split_once('.').ok_or(Rejection::Malformed)?;
        let body = BASE64URL_NOPAD
            .decode(body.as_bytes())
            .map_err(|_| Rejection::Malformed)?;
        let signature = BASE64URL_NOPAD
            .decode(signature.as_bytes())
            .map_err(|_| Rejection::Malformed)?;
        let mut mac = self.mac();
        mac.update(&body);
        mac.verify_slice(&signature)
            .map_err(|_| Rejection::BadSignature)?;
        let claims: TokenClaims =
            serde_json::from_slice(&body).map_err(|_| Rejection::Malformed)?;
        if now > claims.expires_at {
            return Err(Rejection::Expired(now - claims.expires_at));
        }
        Ok(claims)
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TokenClaims {
        TokenClaims {
            env: "orders-prod".into(),
            account: "111111111111".into(),
            region: "us-east-1".into(),
            host: "abc-vpce.c1.us-east-1.airflow.amazonaws.com".into(),
            identity: "assumed-role/Airgate/AKIA".into(),
            expires_at: 1_000,
            nonce: 1,
        }
    }

    #[test]
    fn a_minted_token_verifies_until_it_expires() {
        let key = TokenKey::generate();
        let token = key.mint(&claims());
        assert_eq!(key.verify(&token, 999), Ok(claims()));
        assert_eq!(key.verify(&token, 1_005), Err(Rejection::Expired(5)));
    }

    #[test]
    fn another_key_or_a_changed_token_is_refused() {
        let key = TokenKey::generate();
        let token = key.mint(&claims());
        assert_eq!(
            TokenKey::generate().verify(&token, 0),
            Err(Rejection::BadSignature)
        );
        let mut forged = claims();
        forged.env = "billing-prod".into();
        let (_, signature) = token.split_once('.').expect("two parts");
        let body = BASE64URL_NOPAD.encode(&serde_json::to_vec(&forged).expect("json"));
        assert_eq!(
            key.verify(&format!("{body}.{signature}"), 0),
            Err(Rejection::BadSignature)
        );
        assert_eq!(key.verify("garbage", 0), Err(Rejection::Malformed));
        let hex = key.to_hex();
        assert_eq!(TokenKey::from_hex(&hex), Some(key));
    }
}
