//! The sandbox's own TLS certificate: self-signed, for the web servers' host names, trusted
//! only where it is pinned (a browser profile of the sandbox, by its key's SPKI hash).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use data_encoding::BASE64;
use sha2::{Digest, Sha256};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A self-signed certificate and its key, as PEM.
#[derive(Clone)]
pub struct SelfSigned {
    pub cert_pem: String,
    pub key_pem: String,
    /// base64 of SHA-256 of the certificate's SubjectPublicKeyInfo: what Chromium's
    /// `--ignore-certificate-errors-spki-list` pins.
    pub spki_sha256: String,
}

impl std::fmt::Debug for SelfSigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfSigned")
            .field("spki_sha256", &self.spki_sha256)
            .finish_non_exhaustive()
    }
}

impl SelfSigned {
    /// A certificate for every name of `names` (host names; a `:port` is dropped).
    pub fn new(names: &[String]) -> io::Result<SelfSigned> {
        let names: Vec<String> = names
            .iter()
            .map(|n| n.rsplit_once(':').map_or(n.as_str(), |(h, _)| h).to_owned())
            .collect();
        let key = rcgen::KeyPair::generate().map_err(io::Error::other)?;
        let mut params = rcgen::CertificateParams::new(names).map_err(io::Error::other)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Airgate sandbox");
        let cert = params.self_signed(&key).map_err(io::Error::other)?;
        let spki_sha256 = BASE64.encode(&Sha256::digest(
            rcgen::PublicKeyData::subject_public_key_info(&key),
        ));
        Ok(SelfSigned {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            spki_sha256,
        })
    }

    /// Writes `cert.pem` and `key.pem` into `dir`; returns their paths.
    pub fn write(&self, dir: &Path) -> io::Result<(PathBuf, PathBuf)> {
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, &self.cert_pem)?;
        std::fs::write(&key, &self.key_pem)?;
        Ok((cert, key))
    }
}

/// A TLS server configuration from PEM files.
pub fn server_config(cert: &Path, key: &Path) -> io::Result<Arc<rustls::ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(io::Error::other)?
        .collect::<Result<_, _>>()
        .map_err(io::Error::other)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(io::Error::other)?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(io::Error::other)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
