//! Built-in HTTPS: a certificate and key from files, or a self-signed certificate generated
//! once and kept in the state directory (so browsers that accepted it keep accepting it).
//!
//! With `tls.acme_domains`, certificates come from an ACME CA instead (acme.rs) and are
//! swapped into the running listener when renewed.
//!
//! The TLS handshakes run on their own tasks and finished streams are handed to axum through a
//! [`Listener`], so one slow or hostile client cannot hold up accepting others.

use crate::acme::{Acme, AcmeSettings, ACME_TLS_ALPN};
use crate::config::Config;
use crate::private_file::write_private;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A handshake that takes longer than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting for axum to pick them up.
const ACCEPT_QUEUE: usize = 64;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("tls.cert_file {path}: {problem}")]
    Cert { path: PathBuf, problem: String },
    #[error("tls.key_file {path}: {problem}")]
    Key { path: PathBuf, problem: String },
    #[error("state_dir {path}: {problem}")]
    State { path: PathBuf, problem: String },
    #[error("TLS setup: {0}")]
    Rustls(String),
}

/// The certificate in use, and how it was obtained.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// SHA-256 of the leaf certificate (DER), as colon-separated hex.
    pub fingerprint: String,
    /// Where the generated certificate is kept; `None` for a configured one.
    pub generated_in: Option<PathBuf>,
    /// True when it was created by this start (not loaded from the state directory).
    pub newly_generated: bool,
    /// For ACME, the chain kept from an earlier run (empty before the first one is issued).
    chain: Vec<CertificateDer<'static>>,
    /// `None` for ACME, whose keys live in its resolver.
    key: Option<Arc<PrivateKeyDer<'static>>>,
    acme: Option<Arc<Acme>>,
}

impl Certificate {
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The names ACME gets certificates for; `None` without ACME.
    pub fn acme_domains(&self) -> Option<&[String]> {
        self.acme.as_deref().map(Acme::domains)
    }

    /// The acceptor for the HTTPS listener. With ACME this also starts ordering and renewing
    /// certificates (a task that ends once the server and this certificate are dropped): the
    /// listener has to exist for TLS-ALPN-01 validation, so both start together.
    pub fn acceptor(&self) -> Result<TlsAcceptor, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Rustls(e.to_string()))?
            .with_no_client_auth();
        let config = match (&self.acme, &self.key) {
            (Some(acme), _) => {
                let mut config = builder.with_cert_resolver(acme.resolver());
                config.alpn_protocols = vec![b"http/1.1".to_vec(), ACME_TLS_ALPN.to_vec()];
                acme.spawn();
                config
            }
            (None, Some(key)) => {
                let mut config = builder
                    .with_single_cert(self.chain.clone(), key.clone_key())
                    .map_err(|e| TlsError::Rustls(e.to_string()))?;
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
                config
            }
            (None, None) => return Err(TlsError::Rustls("no certificate key".into())),
        };
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// The certificate to serve with, or `None` when the config asks for plain HTTP.
pub fn certificate(config: &Config) -> Result<Option<Certificate>, TlsError> {
    if !config.uses_tls() {
        return Ok(None);
    }
    if !config.tls.acme_domains.is_empty() {
        let settings = AcmeSettings {
            domains: config.tls.acme_domains.clone(),
            contact: config.tls.acme_contact.clone(),
            directory: config.tls.acme_directory.clone(),
            ca_roots: config.tls.acme_ca_roots.clone(),
        };
        let acme = Acme::new(settings, &config.state_dir);
        let chain = acme.chain();
        return Ok(Some(Certificate {
            fingerprint: chain.first().map(fingerprint).unwrap_or_default(),
            generated_in: None,
            newly_generated: false,
            chain,
            key: None,
            acme: Some(Arc::new(acme)),
        }));
    }
    match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(cert), Some(key)) => load(cert, key).map(Some),
        _ => self_signed(&config.state_dir, config.http.listen.ip()).map(Some),
    }
}

fn load(cert_path: &Path, key_path: &Path) -> Result<Certificate, TlsError> {
    let cert_err = |problem: String| TlsError::Cert {
        path: cert_path.to_owned(),
        problem,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| cert_err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_err("no PEM certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| TlsError::Key {
        path: key_path.to_owned(),
        problem: e.to_string(),
    })?;
    Ok(Certificate {
        fingerprint: fingerprint(&chain[0]),
        generated_in: None,
        newly_generated: false,
        chain,
        key: Some(Arc::new(key)),
        acme: None,
    })
}

const GENERATED_CERT: &str = "self-signed-cert.pem";
const GENERATED_KEY: &str = "self-signed-key.pem";

/// Loads the certificate generated earlier, or generates one for `localhost`, this host's
/// name and `listen_ip` (when specific), and keeps it in `state_dir` (key readable by the
/// owner only).
fn self_signed(state_dir: &Path, listen_ip: IpAddr) -> Result<Certificate, TlsError> {
    let state_err = |problem: String| TlsError::State {
        path: state_dir.to_owned(),
        problem,
    };
    let cert_path = state_dir.join(GENERATED_CERT);
    let key_path = state_dir.join(GENERATED_KEY);
    if cert_path.exists() && key_path.exists() {
        let mut cert = load(&cert_path, &key_path)?;
        cert.generated_in = Some(state_dir.to_owned());
        return Ok(cert);
    }
    let mut names = vec!["localhost".to_owned()];
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let host = host.trim();
        if !host.is_empty() && host != "localhost" {
            names.push(host.to_owned());
        }
    }
    if !listen_ip.is_unspecified() {
        names.push(listen_ip.to_string());
    } else {
        for iface in if_addrs::get_if_addrs().unwrap_or_default() {
            names.push(iface.ip().to_string());
        }
    }
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| TlsError::Rustls(format!("generating a certificate: {e}")))?;
    std::fs::create_dir_all(state_dir).map_err(|e| state_err(e.to_string()))?;
    write_private(&key_path, generated.signing_key.serialize_pem().as_bytes())
        .map_err(|e| state_err(format!("writing {GENERATED_KEY}: {e}")))?;
    std::fs::write(&cert_path, generated.cert.pem())
        .map_err(|e| state_err(format!("writing {GENERATED_CERT}: {e}")))?;
    let mut cert = load(&cert_path, &key_path)?;
    cert.generated_in = Some(state_dir.to_owned());
    cert.newly_generated = true;
    Ok(cert)
}

fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.as_ref());
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// TCP connections that finished their TLS handshake.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `listener`; handshakes run on their own tasks.
    pub fn new(listener: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(ACCEPT_QUEUE);
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        // An ACME CA validating TLS-ALPN-01: the handshake was the whole
                        // answer, and RFC 8737 has the connection closed right after it.
                        Ok(Ok(stream))
                            if stream.get_ref().1.alpn_protocol() == Some(ACME_TLS_ALPN) =>
                        {
                            tracing::debug!("answered an ACME tls-alpn-01 validation");
                        }
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        // No address in the log: a failed handshake is routine (scanners,
                        // browsers that do not trust a self-signed certificate yet).
                        Ok(Err(e)) => tracing::debug!("TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { local, ready })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept task only ends when this listener is gone; never reached while
            // serving, so wait forever like a listener with no more clients.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The client's address, for both plain and TLS listeners (axum's own `SocketAddr` connect
/// info only covers its `TcpListener`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, TcpListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_is_kept_and_reused() {
        let dir = std::env::temp_dir().join(format!("moot-tls-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ip: IpAddr = "192.0.2.10".parse().expect("ip");
        let first = self_signed(&dir, ip).expect("generated");
        assert!(first.newly_generated);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1, "{}", first.fingerprint);
        let second = self_signed(&dir, ip).expect("loaded");
        assert!(!second.newly_generated);
        assert_eq!(first.fingerprint, second.fingerprint);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(GENERATED_KEY))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is private: {mode:o}");
        second.acceptor().expect("usable");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_certificate_file_names_the_key() {
        let err = load(
            Path::new("/nonexistent/c.pem"),
            Path::new("/nonexistent/k.pem"),
        )
        .expect_err("missing");
        assert!(err.to_string().starts_with("tls.cert_file"), "{err}");
    }
}
