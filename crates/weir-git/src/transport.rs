//! libgit2 callbacks: credentials, TLS trust and SSH host keys, per repository.

use std::cell::{Cell, RefCell};

use base64::Engine as _;
use git2::{CertificateCheckStatus, Cred, CredentialType, RemoteCallbacks};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::{Auth, Credentials, Error, Reference};

/// How many times libgit2 may ask for credentials before the server's refusal is final.
const MAX_ATTEMPTS: u32 = 2;

/// The callbacks of one operation on one repository.
pub(crate) struct Session<'a> {
    url: &'a str,
    credentials: &'a Credentials,
    attempts: Cell<u32>,
    /// Why a callback refused, reported instead of libgit2's generic message.
    refusal: RefCell<Option<String>>,
    /// Accept an SSH host key when known_hosts is empty, and keep it (bootstrap only).
    learn: bool,
    /// The host key accepted that way, as a known_hosts line.
    learned: RefCell<Option<String>>,
}

impl<'a> Session<'a> {
    pub(crate) fn new(url: &'a str, credentials: &'a Credentials) -> Self {
        Session {
            url,
            credentials,
            attempts: Cell::new(0),
            refusal: RefCell::new(None),
            learn: false,
            learned: RefCell::new(None),
        }
    }

    /// With SSH credentials whose known_hosts is empty, accepts the server's host key and
    /// keeps it for [`Session::learned_host_key`] (trust on first use).
    pub(crate) fn learning_host_key(mut self) -> Self {
        self.learn = true;
        self
    }

    /// The host key accepted on first use, as a known_hosts line.
    pub(crate) fn learned_host_key(&self) -> Option<String> {
        self.learned.borrow().clone()
    }

    /// Extra HTTP headers: the bearer token.
    pub(crate) fn headers(&self) -> Vec<String> {
        match &self.credentials.auth {
            Auth::Bearer(token) => vec![format!("Authorization: Bearer {token}")],
            _ => Vec::new(),
        }
    }

    pub(crate) fn callbacks(&self) -> RemoteCallbacks<'_> {
        let mut callbacks = RemoteCallbacks::new();
        callbacks
            .credentials(|_url, user_from_url, allowed| self.credential(user_from_url, allowed));
        callbacks.certificate_check(|cert, host| self.check_certificate(cert, host));
        callbacks
    }

    fn refuse(&self, why: String) -> git2::Error {
        *self.refusal.borrow_mut() = Some(why.clone());
        git2::Error::from_str(&why)
    }

    fn credential(
        &self,
        user_from_url: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, git2::Error> {
        let attempt = self.attempts.get() + 1;
        self.attempts.set(attempt);
        if attempt > MAX_ATTEMPTS {
            return Err(self.refuse("the server refused the credentials".into()));
        }
        match &self.credentials.auth {
            Auth::Basic { username, password }
                if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) =>
            {
                Cred::userpass_plaintext(username, password)
            }
            Auth::Ssh {
                identity,
                passphrase,
                ..
            } if allowed.contains(CredentialType::SSH_KEY) => Cred::ssh_key_from_memory(
                user_from_url.unwrap_or("git"),
                None,
                identity,
                passphrase.as_deref(),
            )
            .map_err(|_| {
                self.refuse(
                    "cannot read the SSH identity (is it encrypted without a 'password' key?)"
                        .into(),
                )
            }),
            Auth::Ssh { .. } if allowed.contains(CredentialType::USERNAME) => {
                Cred::username(user_from_url.unwrap_or("git"))
            }
            Auth::None => {
                Err(self
                    .refuse("the server asks for credentials and spec.secretRef gives none".into()))
            }
            _ => Err(self.refuse("the server does not accept this kind of credentials".into())),
        }
    }

    fn check_certificate(
        &self,
        cert: &git2::cert::Cert<'_>,
        host: &str,
    ) -> Result<CertificateCheckStatus, git2::Error> {
        if let Some(hostkey) = cert.as_hostkey() {
            let Auth::Ssh { known_hosts, .. } = &self.credentials.auth else {
                return Err(self.refuse("an ssh:// URL needs known_hosts in spec.secretRef".into()));
            };
            let Some(key) = hostkey.hostkey() else {
                return Err(self.refuse("the SSH server sent no host key".into()));
            };
            let pattern = match ssh_port(self.url) {
                Some(port) if port != 22 => format!("[{host}]:{port}"),
                _ => host.to_owned(),
            };
            if self.learn && known_hosts.trim().is_empty() {
                let kind = hostkey
                    .hostkey_type()
                    .map(|t| t.name())
                    .unwrap_or("ssh-ed25519");
                let encoded = base64::engine::general_purpose::STANDARD.encode(key);
                *self.learned.borrow_mut() = Some(format!("{pattern} {kind} {encoded}"));
                return Ok(CertificateCheckStatus::CertificateOk);
            }
            return if known_host(known_hosts, &pattern, key) {
                Ok(CertificateCheckStatus::CertificateOk)
            } else {
                Err(self.refuse(format!(
                    "the host key of {pattern} is not in known_hosts (unknown or changed host)"
                )))
            };
        }
        let (Some(x509), Some(ca)) = (cert.as_x509(), &self.credentials.ca_pem) else {
            // No CA of our own: libgit2 checks against the system's trust store.
            return Ok(CertificateCheckStatus::CertificatePassthrough);
        };
        verify_tls(x509.data(), ca, host)
            .map(|()| CertificateCheckStatus::CertificateOk)
            .map_err(|why| self.refuse(format!("TLS certificate of {host} not trusted: {why}")))
    }

    /// The error for a failed fetch: a callback's refusal when there was one.
    pub(crate) fn classify(&self, err: git2::Error, reference: &Reference) -> Error {
        let url = self.url.to_owned();
        if let Some(why) = self.refusal.borrow().clone() {
            return if why.contains("credentials") || why.contains("identity") {
                Error::Authentication { url, message: why }
            } else {
                Error::Git {
                    operation: "fetching",
                    url,
                    message: why,
                }
            };
        }
        let message = err.message().to_owned();
        if err.class() == git2::ErrorClass::Http && message.contains("401") {
            return Error::Authentication { url, message };
        }
        if message.contains("couldn't find remote ref") || message.contains("not found") {
            return Error::NotFound {
                url,
                reference: reference.describe(),
            };
        }
        Error::Git {
            operation: "fetching",
            url,
            message,
        }
    }
}

/// The port of an `ssh://` URL, if given.
fn ssh_port(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("ssh://")?;
    let authority = rest.split('/').next()?;
    let host_port = authority.rsplit('@').next()?;
    let (_, port) = host_port.rsplit_once(':')?;
    port.parse().ok()
}

/// Whether `known_hosts` lists `key` (the raw key blob) for `pattern` (`host` or
/// `[host]:port`). Hashed entries (`|1|...`) are not matched.
fn known_host(known_hosts: &str, pattern: &str, key: &[u8]) -> bool {
    known_hosts.lines().any(|line| {
        let mut parts = line.split_whitespace();
        let (Some(hosts), Some(_kind), Some(encoded)) = (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        hosts.split(',').any(|h| h == pattern)
            && base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .is_ok_and(|decoded| decoded == key)
    })
}

/// Verifies a server's leaf certificate (DER) against the CAs in `ca_pem` and the host name.
fn verify_tls(leaf: &[u8], ca_pem: &[u8], host: &str) -> Result<(), String> {
    let roots: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(ca_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("ca.crt is not PEM: {e}"))?;
    if roots.is_empty() {
        return Err("ca.crt holds no certificate".into());
    }
    let anchors = roots
        .iter()
        .map(|der| webpki::anchor_from_trusted_cert(der).map(|a| a.to_owned()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("ca.crt: {e}"))?;
    let leaf = CertificateDer::from(leaf);
    let cert = webpki::EndEntityCert::try_from(&leaf).map_err(|e| e.to_string())?;
    cert.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &[],
        UnixTime::now(),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(host).map_err(|e| e.to_string())?;
    cert.verify_is_valid_for_subject_name(&name)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts_match_host_and_port_and_key() {
        let key = b"key-blob";
        let encoded = base64::engine::general_purpose::STANDARD.encode(key);
        let hosts = format!("# comment\n[127.0.0.1]:2222,other ssh-ed25519 {encoded}\n");
        assert!(known_host(&hosts, "[127.0.0.1]:2222", key));
        assert!(!known_host(&hosts, "127.0.0.1", key));
        assert!(!known_host(&hosts, "[127.0.0.1]:2222", b"other-key"));
        assert_eq!(ssh_port("ssh://git@127.0.0.1:2222/x.git"), Some(2222));
        assert_eq!(ssh_port("ssh://git@host/x.git"), None);
    }
}
