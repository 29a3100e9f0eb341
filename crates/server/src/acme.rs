//! Certificates from an ACME CA (RFC 8555; Let's Encrypt by default) for `tls.acme_domains`,
//! validated with TLS-ALPN-01 (RFC 8737) on the HTTPS port itself: one port, no port 80.
//!
//! How it fits together: the HTTPS listener's rustls config asks [`Resolver`] for a certificate
//! on every handshake. A handshake offering only the `acme-tls/1` protocol is the CA's
//! validator; it gets the challenge certificate for the name it asks for, and the listener
//! closes that connection right after the handshake (tls.rs). Everyone else gets the current
//! certificate, which a background task replaces when it renews; handshakes after the swap
//! get the new one, connections already open keep theirs. No restart, nothing dropped.
//!
//! What is kept in `state_dir/acme/<CA host>-<hash of the directory URL>/` (one folder per CA
//! directory, so switching from a staging to a production CA never serves or reuses the other's
//! certificate or account): `account-key.pem` (the ACME account's private key) and
//! `certificate.pem` (private key and chain in one file, so replacing it is one atomic rename
//! and a crash can never leave a key beside the wrong certificate). Both owner-readable only.
//!
//! Renewal: at two thirds of the certificate's lifetime (day 60 of Let's Encrypt's 90), which
//! leaves a month of retries if the CA or DNS is broken for a while. Retries back off from one
//! minute to six hours so a broken setup stays far below the CA's rate limits.
//!
//! Library choice: `instant-acme` (we drive the order ourselves) rather than `rustls-acme`
//! (which does TLS-ALPN-01 and caching by itself). Both support rustls 0.23, but instant-acme
//! runs on the tokio + hyper 1 + rustls 0.23 + rcgen 0.14 stack this crate already builds,
//! while rustls-acme 0.15 brings a second runtime (async-io, blocking), futures-rustls, chrono
//! and rcgen 0.13 beside our 0.14, and its own accept loop and renewal timing. Driving the flow
//! ourselves is about a hundred lines and keeps our handshake tasks (tls.rs), our state layout
//! and the renewal schedule ours to decide and to test.

use crate::private_file::write_private;
use crate::sync::{lock, read, write};
use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, Key, NewOrder, OrderStatus,
    RetryPolicy,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The ALPN protocol of TLS-ALPN-01 validation connections (RFC 8737, section 6.2).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";
/// The directory of Let's Encrypt's production CA, the default `tls.acme_directory`.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

const ACCOUNT_KEY: &str = "account-key.pem";
const CERTIFICATE: &str = "certificate.pem";
/// Retries after a failed order: first wait, and the longest.
const FIRST_RETRY: Duration = Duration::from_secs(60);
const LONGEST_RETRY: Duration = Duration::from_secs(6 * 3600);
/// How often a sleeping renewal task wakes to see whether its server is still there.
const LIVENESS_CHECK: Duration = Duration::from_secs(30);

/// What the ACME task needs from the config.
#[derive(Debug, Clone)]
pub struct AcmeSettings {
    pub domains: Vec<String>,
    pub contact: Option<String>,
    pub directory: String,
    pub ca_roots: Option<PathBuf>,
}

/// A certificate being served, with what renewal needs to know about it.
#[derive(Debug, Clone)]
struct Current {
    key: Arc<CertifiedKey>,
    not_before: SystemTime,
    not_after: SystemTime,
    /// The configured domains are exactly the certificate's names.
    covers_config: bool,
}

/// Picks the certificate for each handshake: a challenge certificate for the CA's validator,
/// the current certificate for everyone else (none before the first one is issued: those
/// handshakes fail, which browsers show as a connection error, never as a wrong certificate).
#[derive(Debug, Default)]
pub struct Resolver {
    current: RwLock<Option<Current>>,
    challenges: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // Only a handshake that offers acme-tls/1 and nothing else is a validation (RFC 8737
        // 3: the validator offers exactly that one protocol); rustls then selects it.
        let validation = hello
            .alpn()
            .map(|mut offered| offered.all(|p| p == ACME_TLS_ALPN))
            .unwrap_or(false);
        if validation {
            let name = hello.server_name()?.to_ascii_lowercase();
            return lock(&self.challenges).get(&name).cloned();
        }
        read(&self.current).as_ref().map(|c| c.key.clone())
    }
}

/// Challenge certificates installed for one order; removed when it is dropped, whatever way
/// the order ends.
struct Installed<'a> {
    resolver: &'a Resolver,
    names: Vec<String>,
}

impl Drop for Installed<'_> {
    fn drop(&mut self) {
        let mut challenges = lock(&self.resolver.challenges);
        for name in &self.names {
            challenges.remove(name);
        }
    }
}

/// The ACME state of one server: settings, its folder, and the resolver the listener uses.
pub struct Acme {
    settings: AcmeSettings,
    dir: PathBuf,
    resolver: Arc<Resolver>,
    provider: Arc<CryptoProvider>,
    /// The renewal task runs once however many listeners use this certificate.
    started: AtomicBool,
}

impl std::fmt::Debug for Acme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acme")
            .field("domains", &self.settings.domains)
            .field("dir", &self.dir)
            .finish()
    }
}

impl Acme {
    /// Loads the certificate kept from an earlier run, if there is one (it is served at once;
    /// the CA is contacted only when it is missing, due or for other names).
    pub fn new(settings: AcmeSettings, state_dir: &Path) -> Self {
        let dir = state_dir
            .join("acme")
            .join(directory_folder(&settings.directory));
        let acme = Self {
            settings,
            dir,
            resolver: Arc::new(Resolver::default()),
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
            started: AtomicBool::new(false),
        };
        let path = acme.dir.join(CERTIFICATE);
        if path.exists() {
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|pem| acme.parse(&pem))
            {
                Ok(current) => *write(&acme.resolver.current) = Some(current),
                // A damaged file is replaced by the next order rather than stopping the server.
                Err(e) => tracing::warn!("ignoring {}: {e}", path.display()),
            }
        }
        acme
    }

    pub fn domains(&self) -> &[String] {
        &self.settings.domains
    }

    pub fn resolver(&self) -> Arc<Resolver> {
        self.resolver.clone()
    }

    /// The chain served now (empty before the first certificate).
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        read(&self.resolver.current)
            .as_ref()
            .map(|c| c.key.cert.clone())
            .unwrap_or_default()
    }

    /// Starts the task that orders and renews certificates. It ends by itself once nothing
    /// holds this `Acme` any more (the server is gone).
    /// Later calls do nothing.
    pub fn spawn(self: &Arc<Self>) {
        if !self.started.swap(true, Ordering::SeqCst) {
            tokio::spawn(renew_forever(Arc::downgrade(self)));
        }
    }

    /// How long until the next order: zero when there is no usable certificate.
    fn due_in(&self, now: SystemTime) -> Duration {
        match read(&self.resolver.current).as_ref() {
            Some(c) if c.covers_config => renewal_time(c.not_before, c.not_after)
                .duration_since(now)
                .unwrap_or(Duration::ZERO),
            _ => Duration::ZERO,
        }
    }

    /// One complete order: account, TLS-ALPN-01 for every name, finalize, store, swap in.
    async fn order(&self) -> Result<(), String> {
        let builder = match &self.settings.ca_roots {
            Some(roots) => Account::builder_with_root(roots)
                .map_err(|e| format!("tls.acme_ca_roots {}: {e}", roots.display()))?,
            None => Account::builder().map_err(|e| e.to_string())?,
        };
        let key = self.account_key()?;
        let signer = Key::from_pkcs8_der(key.clone_key()).map_err(|e| e.to_string())?;
        // newAccount with an existing key returns that account (RFC 8555 7.3.1), so this also
        // recovers when the CA has forgotten us (a test CA restarted, a new directory).
        let (account, _) = builder
            .create_from_key(
                (signer, PrivateKeyDer::Pkcs8(key)),
                self.settings.directory.clone(),
            )
            .await
            .map_err(|e| format!("ACME account at {}: {e}", self.settings.directory))?;
        if let Some(contact) = &self.settings.contact {
            account
                .update_contacts(&[contact.as_str()])
                .await
                .map_err(|e| format!("setting the ACME account's contact: {e}"))?;
        }
        let identifiers: Vec<Identifier> = self
            .settings
            .domains
            .iter()
            .map(|d| Identifier::Dns(d.clone()))
            .collect();
        let mut order = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .map_err(|e| format!("new order: {e}"))?;
        let mut installed = Installed {
            resolver: &self.resolver,
            names: Vec::new(),
        };
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| format!("authorization: {e}"))?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => return Err(format!("authorization is {other:?}")),
            }
            let mut challenge = authz
                .challenge(ChallengeType::TlsAlpn01)
                .ok_or("the CA offers no tls-alpn-01 challenge")?;
            let name = challenge.identifier().to_string().to_ascii_lowercase();
            let digest = challenge.key_authorization().digest();
            let cert = challenge_certificate(&name, digest.as_ref(), &self.provider)?;
            lock(&self.resolver.challenges).insert(name.clone(), cert);
            installed.names.push(name);
            challenge
                .set_ready()
                .await
                .map_err(|e| format!("challenge: {e}"))?;
        }
        let status = order
            .poll_ready(&RetryPolicy::new().timeout(Duration::from_secs(120)))
            .await
            .map_err(|e| format!("waiting for validation: {e}"))?;
        drop(installed);
        if status != OrderStatus::Ready {
            return Err(format!("order is {status:?} after validation"));
        }
        let key_pem = order
            .finalize()
            .await
            .map_err(|e| format!("finalize: {e}"))?;
        let chain_pem = order
            .poll_certificate(&RetryPolicy::new().timeout(Duration::from_secs(120)))
            .await
            .map_err(|e| format!("downloading the certificate: {e}"))?;
        let pem = format!("{key_pem}{chain_pem}");
        let current = self.parse(pem.as_bytes())?;
        std::fs::create_dir_all(&self.dir).map_err(|e| self.state_error(e))?;
        replace_private(&self.dir.join(CERTIFICATE), pem.as_bytes())
            .map_err(|e| self.state_error(e))?;
        *write(&self.resolver.current) = Some(current);
        Ok(())
    }

    fn state_error(&self, e: std::io::Error) -> String {
        format!("state_dir {}: {e}", self.dir.display())
    }

    /// The account key from an earlier run, or a new one written now.
    fn account_key(&self) -> Result<PrivatePkcs8KeyDer<'static>, String> {
        let path = self.dir.join(ACCOUNT_KEY);
        if path.exists() {
            return PrivatePkcs8KeyDer::from_pem_file(&path)
                .map_err(|e| format!("{}: {e}", path.display()));
        }
        let (_, key) = Key::generate_pkcs8().map_err(|e| e.to_string())?;
        let pem = pem_encode("PRIVATE KEY", key.secret_pkcs8_der());
        std::fs::create_dir_all(&self.dir).map_err(|e| self.state_error(e))?;
        replace_private(&path, pem.as_bytes()).map_err(|e| self.state_error(e))?;
        Ok(key)
    }

    /// A stored or downloaded key + chain, checked: the key matches and the dates are readable.
    fn parse(&self, pem: &[u8]) -> Result<Current, String> {
        let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("private key: {e}"))?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("certificate: {e}"))?;
        let leaf = chain.first().ok_or("no certificate")?.clone();
        let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref())
            .map_err(|e| format!("certificate: {e}"))?;
        let time = |t: x509_parser::time::ASN1Time| {
            UNIX_EPOCH + Duration::from_secs(u64::try_from(t.timestamp()).unwrap_or(0))
        };
        let validity = parsed.validity();
        let names: BTreeSet<String> = parsed
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| {
                san.value
                    .general_names
                    .iter()
                    .filter_map(|n| match n {
                        x509_parser::extensions::GeneralName::DNSName(d) => {
                            Some(d.to_ascii_lowercase())
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let wanted: BTreeSet<String> = self
            .settings
            .domains
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect();
        let key = CertifiedKey::from_der(chain, key, &self.provider)
            .map_err(|e| format!("certificate and key: {e}"))?;
        Ok(Current {
            key: Arc::new(key),
            not_before: time(validity.not_before),
            not_after: time(validity.not_after),
            covers_config: names == wanted,
        })
    }
}

/// When to renew a certificate valid from `not_before` to `not_after`: at two thirds of its
/// lifetime.
pub fn renewal_time(not_before: SystemTime, not_after: SystemTime) -> SystemTime {
    let lifetime = not_after.duration_since(not_before).unwrap_or_default();
    not_before + lifetime * 2 / 3
}

/// The wait before retry number `failures` (1 = after the first failure).
pub fn retry_delay(failures: u32) -> Duration {
    FIRST_RETRY
        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)))
        .min(LONGEST_RETRY)
}

async fn renew_forever(acme: Weak<Acme>) {
    let mut failures = 0u32;
    // After a failure, the next attempt waits for this instead of the certificate's schedule.
    let mut retry_at: Option<Instant> = None;
    loop {
        // Sleep in short steps so the task notices when its server has stopped.
        loop {
            let Some(strong) = acme.upgrade() else { return };
            let wait = match retry_at {
                Some(at) => at.saturating_duration_since(Instant::now()),
                None => strong.due_in(SystemTime::now()),
            };
            drop(strong);
            if wait.is_zero() {
                break;
            }
            tokio::time::sleep(wait.min(LIVENESS_CHECK)).await;
        }
        let Some(strong) = acme.upgrade() else { return };
        let domains = strong.settings.domains.join(", ");
        tracing::info!(
            "requesting a certificate for {domains} from {}",
            strong.settings.directory
        );
        match strong.order().await {
            Ok(()) => {
                failures = 0;
                retry_at = None;
                tracing::info!("new certificate for {domains} in use");
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let delay = retry_delay(failures);
                retry_at = Some(Instant::now() + delay);
                tracing::warn!(
                    "could not get a certificate for {domains}: {e}; trying again in {} s",
                    delay.as_secs()
                );
            }
        }
    }
}

/// The self-signed certificate RFC 8737 asks for: the name being validated and the critical
/// acmeIdentifier extension holding SHA-256 of the key authorization.
fn challenge_certificate(
    name: &str,
    digest: &[u8],
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, String> {
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()])
        .map_err(|e| format!("challenge certificate: {e}"))?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let key = rcgen::KeyPair::generate().map_err(|e| format!("challenge key: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("challenge certificate: {e}"))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signer = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("challenge key: {e}"))?;
    // Not `CertifiedKey::from_der`: its key check parses the certificate with webpki, which
    // refuses the critical acmeIdentifier extension this certificate exists to carry. The key
    // was made together with the certificate just above, so there is nothing to check.
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signer,
    )))
}

/// `acme/<host of the directory URL>-<8 hex digits of its SHA-256>`: readable for operators,
/// distinct for every directory.
fn directory_folder(directory: &str) -> String {
    let host: String = directory
        .split("://")
        .nth(1)
        .unwrap_or(directory)
        .split('/')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, directory.as_bytes());
    let hash: String = digest.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{host}-{hash}")
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Writes `contents` owner-readable only, next to `path`, then renames it over `path`: readers
/// see the old file or the new one, never half of one.
fn replace_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("pem.new");
    write_private(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_at_two_thirds_of_the_lifetime() {
        let start = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ninety_days = Duration::from_secs(90 * 86400);
        assert_eq!(
            renewal_time(start, start + ninety_days),
            start + Duration::from_secs(60 * 86400)
        );
        assert_eq!(
            renewal_time(start, start),
            start,
            "a zero lifetime is due at once"
        );
    }

    #[test]
    fn retries_back_off_and_stay_bounded() {
        assert_eq!(retry_delay(1), Duration::from_secs(60));
        assert_eq!(retry_delay(2), Duration::from_secs(120));
        assert_eq!(retry_delay(5), Duration::from_secs(960));
        assert_eq!(retry_delay(40), LONGEST_RETRY);
        assert_eq!(retry_delay(u32::MAX), LONGEST_RETRY);
    }

    #[test]
    fn each_directory_gets_its_own_folder() {
        let a = directory_folder(LETS_ENCRYPT);
        assert!(a.starts_with("acme-v02.api.letsencrypt.org-"), "{a}");
        let b = directory_folder("https://localhost:14000/dir");
        assert!(b.starts_with("localhost_14000-"), "{b}");
        assert_ne!(a, b);
        assert!(!b.contains('/'));
    }

    fn settings(domains: &[&str]) -> AcmeSettings {
        AcmeSettings {
            domains: domains.iter().map(|d| d.to_string()).collect(),
            contact: None,
            directory: "https://localhost:14000/dir".into(),
            ca_roots: None,
        }
    }

    #[test]
    fn challenge_certificates_answer_only_validation_handshakes() {
        let acme = Acme::new(settings(&["meet.example.org"]), Path::new("/nonexistent"));
        assert!(acme.chain().is_empty());
        let cert = challenge_certificate("meet.example.org", &[7u8; 32], &acme.provider)
            .expect("challenge certificate");
        let (_, parsed) =
            x509_parser::parse_x509_certificate(cert.cert[0].as_ref()).expect("parses");
        let ext = parsed
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .expect("acmeIdentifier extension");
        assert!(ext.critical);
        assert_eq!(&ext.value[2..], &[7u8; 32], "an OCTET STRING of the digest");
    }

    #[test]
    fn a_stored_certificate_is_served_and_scheduled() {
        let dir = std::env::temp_dir().join(format!("moot-acme-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = settings(&["meet.example.org"]);
        let folder = dir.join("acme").join(directory_folder(&s.directory));
        std::fs::create_dir_all(&folder).expect("dir");
        let mut params =
            rcgen::CertificateParams::new(vec!["meet.example.org".to_owned()]).expect("params");
        let now = SystemTime::now();
        params.not_before = (now - Duration::from_secs(3600)).into();
        params.not_after = (now + Duration::from_secs(2 * 3600)).into();
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("cert");
        let pem = format!("{}{}", key.serialize_pem(), cert.pem());
        std::fs::write(folder.join(CERTIFICATE), &pem).expect("write");

        let acme = Acme::new(s, &dir);
        assert_eq!(acme.chain().len(), 1, "served at once");
        let due = acme.due_in(now);
        assert!(
            due > Duration::ZERO && due <= Duration::from_secs(3600),
            "{due:?}"
        );
        // Other names configured: served meanwhile, but due now.
        let other = Acme::new(settings(&["meet.example.org", "b.example.org"]), &dir);
        assert_eq!(other.chain().len(), 1);
        assert_eq!(other.due_in(now), Duration::ZERO);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
