//! Credentials, read from a Secret in Flux's formats.

use std::collections::BTreeMap;
use std::fmt;

use crate::Error;

/// How to authenticate to a Git server.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// HTTP basic auth (`username`, `password`).
    Basic {
        /// The user name.
        username: String,
        /// The password or token.
        password: String,
    },
    /// An HTTP `Authorization: Bearer` token (`bearerToken`).
    Bearer(String),
    /// An SSH private key (`identity`, optionally encrypted with `password`) and the server's
    /// host keys (`known_hosts`).
    Ssh {
        /// The private key, PEM or OpenSSH format.
        identity: String,
        /// The key's passphrase.
        passphrase: Option<String>,
        /// `known_hosts` lines for the server.
        known_hosts: String,
    },
}

impl fmt::Debug for Auth {
    /// Never prints a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
            Auth::Ssh { .. } => f.write_str("Ssh(***)"),
        }
    }
}

/// Credentials and trust for one repository.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// How to authenticate.
    pub auth: Auth,
    /// PEM certificates of the CAs to trust for HTTPS instead of the system's.
    pub ca_pem: Option<Vec<u8>>,
}

impl Credentials {
    /// Reads a Flux Git Secret's `data` for `url`, with Flux's rules: for `ssh://`, `identity`
    /// and `known_hosts` (required) and `password` (the key's passphrase); for `http(s)://`,
    /// `bearerToken`, or `username` and `password`, and `ca.crt` (else `caFile`).
    pub fn from_secret(url: &str, data: &BTreeMap<String, Vec<u8>>) -> Result<Self, Error> {
        let text = |key: &str| -> Result<Option<String>, Error> {
            data.get(key)
                .map(|v| {
                    String::from_utf8(v.clone()).map_err(|_| Error::Credentials {
                        reason: format!("key '{key}' is not UTF-8"),
                    })
                })
                .transpose()
        };
        let missing = |key: &str| Error::Credentials {
            reason: format!("key '{key}' is required for an ssh:// URL"),
        };
        if url.starts_with("ssh://") {
            let identity = text("identity")?.ok_or_else(|| missing("identity"))?;
            let known_hosts = text("known_hosts")?.ok_or_else(|| missing("known_hosts"))?;
            return Ok(Credentials {
                auth: Auth::Ssh {
                    identity,
                    passphrase: text("password")?,
                    known_hosts,
                },
                ca_pem: None,
            });
        }
        let ca_pem = data.get("ca.crt").or_else(|| data.get("caFile")).cloned();
        let bearer = text("bearerToken")?;
        let username = text("username")?;
        let password = text("password")?;
        let auth = match (bearer, username, password) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(Error::Credentials {
                    reason: "set either bearerToken or username/password, not both".into(),
                });
            }
            (Some(token), None, None) => Auth::Bearer(token),
            (None, Some(username), password) => Auth::Basic {
                username,
                password: password.unwrap_or_default(),
            },
            (None, None, Some(_)) => {
                return Err(Error::Credentials {
                    reason: "key 'password' needs key 'username'".into(),
                });
            }
            (None, None, None) => Auth::None,
        };
        Ok(Credentials { auth, ca_pem })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn reads_flux_secret_formats() -> Result<(), Error> {
        let basic = Credentials::from_secret(
            "https://git.example/x.git",
            &data(&[("username", "u"), ("password", "p"), ("ca.crt", "PEM")]),
        )?;
        assert!(
            matches!(basic.auth, Auth::Basic { ref username, ref password } if username == "u" && password == "p")
        );
        assert_eq!(basic.ca_pem.as_deref(), Some(b"PEM".as_slice()));
        let bearer = Credentials::from_secret("https://x", &data(&[("bearerToken", "t")]))?;
        assert!(matches!(bearer.auth, Auth::Bearer(ref t) if t == "t"));
        let ssh = Credentials::from_secret(
            "ssh://git@x/y",
            &data(&[("identity", "KEY"), ("known_hosts", "x ssh-ed25519 AAA")]),
        )?;
        assert!(matches!(
            ssh.auth,
            Auth::Ssh {
                passphrase: None,
                ..
            }
        ));
        Ok(())
    }

    #[test]
    fn refuses_what_flux_refuses_without_leaking_values() {
        let err = Credentials::from_secret("ssh://git@x/y", &data(&[("identity", "KEY")]))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("invalid Git credentials: key 'known_hosts' is required for an ssh:// URL")
        );
        let both = Credentials::from_secret(
            "https://x",
            &data(&[("bearerToken", "secret-token"), ("username", "u")]),
        );
        assert!(both.is_err());
        let debug = format!(
            "{:?}",
            Auth::Basic {
                username: "u".into(),
                password: "hunter2".into()
            }
        );
        assert!(!debug.contains("hunter2"));
    }
}
