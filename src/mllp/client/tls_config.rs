//! TLS settings for the client: [`load_ca_pem`] reads the CAs to trust, [`TlsClientConfig`]
//! builds the rustls configuration (optionally with a client certificate), and the helpers
//! turn an address into the server name the certificate must carry.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::aws_lc_rs::default_provider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

use super::ClientError;

/// Reads every `CERTIFICATE` block of a PEM file into a root store: the CAs a TLS server
/// certificate must chain to. Private keys and other blocks in the file are ignored.
pub fn load_ca_pem(path: impl AsRef<Path>) -> Result<RootCertStore, ClientError> {
    let path = path.as_ref();
    let pem_error = |source| ClientError::CaPem {
        path: path.to_path_buf(),
        source,
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(pem_error)? {
        let cert = cert.map_err(pem_error)?;
        // `add` (not `add_parsable_certificates`) so that a bad certificate is an error that
        // names the file, not a silently smaller trust store.
        roots
            .add(cert)
            .map_err(|source| ClientError::BadCaCertificate {
                path: path.to_path_buf(),
                source,
            })?;
    }
    if roots.is_empty() {
        return Err(ClientError::NoCaCertificates {
            path: path.to_path_buf(),
        });
    }
    Ok(roots)
}

/// TLS settings for [`MllpClient::connect`](super::MllpClient::connect): which CAs to trust
/// and, optionally, which name to expect in the server certificate (by default the host part
/// of the address).
#[derive(Debug, Clone)]
pub struct TlsClientConfig {
    pub(super) config: Arc<rustls::ClientConfig>,
    pub(super) server_name: Option<ServerName<'static>>,
}

impl TlsClientConfig {
    /// Trusts the CAs in a PEM file (see [`load_ca_pem`]); no client certificate.
    pub fn from_ca_pem(path: impl AsRef<Path>) -> Result<Self, ClientError> {
        Self::from_roots(load_ca_pem(path)?)
    }

    /// Trusts the given roots; no client certificate.
    pub fn from_roots(roots: RootCertStore) -> Result<Self, ClientError> {
        // The provider is named explicitly instead of relying on a process-wide default: a
        // library must not depend on (or race with) whoever calls `install_default` first.
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|source| ClientError::TlsConfig { source })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
            server_name: None,
        })
    }

    /// Trusts the CAs in `ca` and presents the certificate chain in `cert` with the private key
    /// in `key`, for servers that require client certificates (mutual TLS).
    pub fn mutual(
        ca: impl AsRef<Path>,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, ClientError> {
        let roots = load_ca_pem(ca)?;
        let (cert, key) = (cert.as_ref(), key.as_ref());
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| ClientError::ClientCertificate {
                path: cert.to_path_buf(),
                reason: e.to_string(),
            })?;
        if chain.is_empty() {
            return Err(ClientError::ClientCertificate {
                path: cert.to_path_buf(),
                reason: "no CERTIFICATE found".into(),
            });
        }
        let key_der = rustls_pki_types::PrivateKeyDer::from_pem_file(key).map_err(|e| {
            ClientError::ClientCertificate {
                path: key.to_path_buf(),
                reason: format!("no usable private key ({e})"),
            }
        })?;
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|source| ClientError::TlsConfig { source })?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key_der)
            .map_err(|source| ClientError::TlsConfig { source })?;
        Ok(Self {
            config: Arc::new(config),
            server_name: None,
        })
    }

    /// Expects `name` in the server certificate instead of the host we connect to; for
    /// connecting by IP address to a server whose certificate only has its DNS name.
    pub fn with_server_name(mut self, name: &str) -> Result<Self, ClientError> {
        self.server_name = Some(server_name(name)?);
        Ok(self)
    }
}

/// Parses a DNS name or IP address (brackets around IPv6 allowed) into a rustls server name.
pub(super) fn server_name(name: &str) -> Result<ServerName<'static>, ClientError> {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_owned()).map_err(|_| ClientError::InvalidServerName {
        name: name.to_owned(),
    })
}

/// The host part of `HOST:PORT` or `[IPv6]:PORT`; the whole string if there is no port.
pub(super) fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(host, _)| host);
    }
    addr.rsplit_once(':').map_or(addr, |(host, _)| host)
}
