//! Optional TLS: a self-signed certificate for 127.0.0.1/localhost, generated per server, so
//! clients can be tested with the kubeconfig's `certificate-authority-data` (verification on),
//! without it (verification fails), and with `insecure-skip-tls-verify`.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// A server certificate and the acceptor that serves it.
pub struct Tls {
    /// The certificate as PEM (it is its own CA).
    pub ca_pem: String,
    /// The certificate as DER.
    pub ca_der: Vec<u8>,
    /// TLS acceptor for incoming connections.
    pub acceptor: TlsAcceptor,
}

impl Tls {
    /// A fresh self-signed certificate for `127.0.0.1` and `localhost`.
    pub fn generate() -> anyhow::Result<Tls> {
        let certified = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
        ])?;
        let ca_der = certified.cert.der().to_vec();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(ca_der.clone())], key)?;
        Ok(Tls {
            ca_pem: certified.cert.pem(),
            ca_der,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}
