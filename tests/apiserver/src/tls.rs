//! Optional TLS, set up like a kubeadm cluster: a CA generated per server signs the serving
//! certificate (SANs `127.0.0.1` and `localhost`) and the client certificates tests ask for
//! ([`Tls::client_certificate`]). Clients can be tested with the kubeconfig's
//! `certificate-authority-data` (verification on), without it (verification fails), and with
//! `insecure-skip-tls-verify`.
//!
//! Client certificates are requested but never required, as kube-apiserver does
//! (`tls.RequestClientCert`, with the client CA's subject sent as the acceptable-CA hint), so
//! token and anonymous clients keep working. kube-apiserver does not verify the certificate in
//! the handshake either: its x509 authenticator verifies the chain against the client CA per
//! request, and a certificate that does not verify makes the request a 401 (unless a bearer
//! token authenticates it), not a failed handshake. This server does the same: the handshake
//! accepts any well-formed certificate whose key the client proves it holds (the
//! CertificateVerify signature is checked, as Go checks it), and [`Tls::identify`] verifies it
//! against the CA afterwards; the outcome ([`ClientCert`]) goes to the authenticator
//! ([`crate::auth::AuthConfig::authenticate`]).
//!
//! Go clients (kubectl) send their certificate only if its issuer name matches the
//! acceptable-CA hint; rustls clients (kube-rs) always send it. Every server's CA here has the
//! same subject (as every kubeadm cluster's CA is CN=kubernetes), so another server's
//! certificate is sent by both and refused with 401 for its signature.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName as HintName, SignatureScheme};
use tokio_rustls::TlsAcceptor;

pub use crate::auth::ClientCert;

/// The OID of the `organizationName` attribute (2.5.4.10), which kube-apiserver reads as groups.
const OID_ORGANIZATION: [u64; 4] = [2, 5, 4, 10];

/// A per-server CA, the serving certificate it signed, and the acceptor that serves it.
pub struct Tls {
    /// The CA certificate as PEM: what a client must trust (`certificate-authority-data`).
    pub ca_pem: String,
    /// The CA certificate as DER.
    pub ca_der: Vec<u8>,
    /// TLS acceptor for incoming connections (requests, never requires, a client certificate).
    pub acceptor: TlsAcceptor,
    /// The CA's parameters and key, to sign client certificates.
    ca: Issuer<'static, KeyPair>,
    /// Verifies client certificate chains against the CA, after the handshake.
    verifier: Arc<dyn ClientCertVerifier>,
}

impl Tls {
    /// A fresh CA and a serving certificate for `127.0.0.1` and `localhost` signed by it,
    /// offering `h2` and `http/1.1` by ALPN, as kube-apiserver does.
    pub fn generate() -> anyhow::Result<Tls> {
        Self::generate_with(true)
    }

    /// Like [`Tls::generate`]; `http2: false` offers `http/1.1` alone by ALPN
    /// (kube-apiserver's `--disable-http2-serving`).
    pub fn generate_with(http2: bool) -> anyhow::Result<Tls> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());

        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name = DistinguishedName::new();
        // The same subject for every server, as every kubeadm cluster's CA is CN=kubernetes: a
        // certificate of another server's CA fails on its signature, and Go clients, which match
        // the issuer against the acceptable-CA hint, do send it.
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "test-apiserver-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let ca_der = ca_cert.der().to_vec();
        let ca = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate()?;
        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
        server_params.distinguished_name = DistinguishedName::new();
        server_params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        server_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server_params.use_authority_key_identifier_extension = true;
        let server_cert = server_params.signed_by(&server_key, &ca)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));

        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(ca_der.clone()))?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(Arc::new(RequestClientCert {
                inner: verifier.clone(),
            }))
            .with_single_cert(vec![server_cert.der().clone()], key)?;
        // Go's order (net/http with http2 configured): h2 first. A client that offers neither
        // gets no ALPN answer and HTTP/1.1.
        config.alpn_protocols = if http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Ok(Tls {
            ca_pem: ca_cert.pem(),
            ca_der,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            ca,
            verifier,
        })
    }

    /// A client certificate signed by this CA, as `(certificate PEM, PKCS#8 key PEM)`: subject
    /// CN = `user`, one O per group, extended key usage clientAuth. kube-apiserver (and this
    /// server) authenticates it as user `user` in `groups` (plus `system:authenticated`).
    /// At most two groups: rcgen keeps one value per attribute type, and the second group is
    /// written under the same OID as a custom attribute. An empty `user` gives a certificate
    /// without CN, which authenticates nobody (the request goes on to the token, as upstream).
    pub fn client_certificate(
        &self,
        user: &str,
        groups: &[&str],
    ) -> anyhow::Result<(String, String)> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        match groups {
            [] => {}
            [one] => params
                .distinguished_name
                .push(DnType::OrganizationName, *one),
            [one, two] => {
                params
                    .distinguished_name
                    .push(DnType::OrganizationName, *one);
                params
                    .distinguished_name
                    .push(DnType::CustomDnType(OID_ORGANIZATION.to_vec()), *two);
            }
            _ => anyhow::bail!(
                "client_certificate: at most two groups (O attributes) are supported, got {}",
                groups.len()
            ),
        }
        if !user.is_empty() {
            params.distinguished_name.push(DnType::CommonName, user);
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.ca)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// What the client certificate chain of a connection (as rustls saw it, leaf first) proves:
    /// nothing ([`ClientCert::None`]: no certificate, or one without a CN, which kube-apiserver's
    /// x509 authenticator passes over), a user (CN) and groups (O) when it chains to this CA with
    /// the clientAuth usage, or [`ClientCert::Invalid`] with the reason.
    pub fn identify(&self, chain: Option<&[CertificateDer<'_>]>) -> ClientCert {
        let Some((leaf, intermediates)) = chain.and_then(|c| c.split_first()) else {
            return ClientCert::None;
        };
        if let Err(e) = self
            .verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
        {
            return ClientCert::Invalid(e.to_string());
        }
        match subject_names(leaf.as_ref()) {
            Some((Some(user), groups)) if !user.is_empty() => ClientCert::Verified { user, groups },
            Some(_) => ClientCert::None,
            None => ClientCert::Invalid("the certificate subject cannot be read".into()),
        }
    }
}

/// Requests a client certificate and accepts any the client proves it holds the key of; the
/// chain is verified after the handshake ([`Tls::identify`]), like kube-apiserver's
/// `tls.RequestClientCert` plus its x509 authenticator.
#[derive(Debug)]
struct RequestClientCert {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[HintName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// One DER element of `input`: its tag, its contents and what follows it.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

/// The subject's common name (the last one, as Go reads it) and organizations, in order, of a
/// DER certificate; `None` if it does not parse.
fn subject_names(cert: &[u8]) -> Option<(Option<String>, Vec<String>)> {
    const SEQUENCE: u8 = 0x30;
    const SET: u8 = 0x31;
    const OID: u8 = 0x06;
    const CN: [u8; 3] = [0x55, 0x04, 0x03];
    const O: [u8; 3] = [0x55, 0x04, 0x0a];

    let (SEQUENCE, cert, _) = der(cert)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = der(cert)? else {
        return None;
    };
    // version [0] (optional), serialNumber, signature, issuer, validity, subject.
    let mut rest = tbs;
    let (tag, _, after) = der(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    for _ in 0..4 {
        rest = der(rest)?.2;
    }
    let (SEQUENCE, mut rdns, _) = der(rest)? else {
        return None;
    };
    let mut cn = None;
    let mut orgs = Vec::new();
    while !rdns.is_empty() {
        let (SET, mut attrs, next) = der(rdns)? else {
            return None;
        };
        rdns = next;
        while !attrs.is_empty() {
            let (SEQUENCE, attr, next) = der(attrs)? else {
                return None;
            };
            attrs = next;
            let (OID, oid, value) = der(attr)? else {
                return None;
            };
            let (_, text, _) = der(value)?;
            let text = std::str::from_utf8(text).ok()?.to_string();
            if oid == CN {
                cn = Some(text);
            } else if oid == O {
                orgs.push(text);
            }
        }
    }
    Some((cn, orgs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der_of(pem: &str) -> Vec<u8> {
        use base64::Engine;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("PEM body is base64")
    }

    #[test]
    fn client_certificates_name_the_user_in_cn_and_the_groups_in_o() {
        let tls = Tls::generate().expect("tls");
        let (cert, _) = tls
            .client_certificate("alice", &["system:masters", "team-a"])
            .expect("cert");
        let der = der_of(&cert);
        assert_eq!(
            subject_names(&der),
            Some((
                Some("alice".to_string()),
                vec!["system:masters".to_string(), "team-a".to_string()]
            ))
        );
        assert_eq!(
            tls.identify(Some(&[CertificateDer::from(der)])),
            ClientCert::Verified {
                user: "alice".into(),
                groups: vec!["system:masters".into(), "team-a".into()]
            }
        );
        assert!(tls.client_certificate("x", &["a", "b", "c"]).is_err());
    }

    #[test]
    fn certificates_of_another_ca_or_without_cn_authenticate_nobody() {
        let tls = Tls::generate().expect("tls");
        let other = Tls::generate().expect("other tls");
        let (cert, _) = other.client_certificate("alice", &[]).expect("cert");
        // Every server's CA has the same subject, so the issuer name matches and the signature
        // does not (as between two kubeadm clusters, whose CAs are all CN=kubernetes).
        assert_eq!(
            tls.identify(Some(&[CertificateDer::from(der_of(&cert))])),
            ClientCert::Invalid("invalid peer certificate: BadSignature".into())
        );

        let (cert, _) = tls.client_certificate("", &["g"]).expect("cert");
        assert_eq!(
            tls.identify(Some(&[CertificateDer::from(der_of(&cert))])),
            ClientCert::None
        );
        assert_eq!(tls.identify(None), ClientCert::None);
        // The CA certificate itself is no client certificate.
        assert!(matches!(
            tls.identify(Some(&[CertificateDer::from(tls.ca_der.clone())])),
            ClientCert::Invalid(_)
        ));
    }

    #[test]
    fn truncated_certificates_do_not_parse() {
        let tls = Tls::generate().expect("tls");
        let (cert, _) = tls.client_certificate("alice", &[]).expect("cert");
        let der = der_of(&cert);
        for n in [0, 1, 2, 10, der.len() / 2] {
            assert_eq!(subject_names(&der[..n]), None, "{n} bytes");
        }
    }
}
