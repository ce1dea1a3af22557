//! Sprig's certificate functions: `genCA`, `genCAWithKey`, `genSelfSignedCert`,
//! `genSelfSignedCertWithKey`, `genSignedCert`, `genSignedCertWithKey`, `buildCustomCert` and
//! `genPrivateKey`, with Sprig's choices: RSA 2048 keys in PKCS#1 PEM (`RSA PRIVATE KEY`), a
//! random 128-bit serial, validity from now for the given days, CAs for signing and
//! certificates for server and client authentication.

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};
use rsa::rand_core::{OsRng, RngCore as _};

use crate::exec::Templates;
use crate::value::Value;

type R = Result<Value, String>;

/// A fresh key: RSA of `bits`, as (PKCS#1 PEM, key pair for signing).
fn rsa_key(bits: usize) -> Result<(String, KeyPair), String> {
    let key = rsa::RsaPrivateKey::new(&mut OsRng, bits).map_err(|e| e.to_string())?;
    let pkcs1 = key
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?
        .to_string();
    Ok((pkcs1, signing_key(&key)?))
}

fn signing_key(key: &rsa::RsaPrivateKey) -> Result<KeyPair, String> {
    let pkcs8 = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?;
    KeyPair::from_pem_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256).map_err(|e| e.to_string())
}

/// A key given as PEM: PKCS#1 RSA (what Sprig writes) or PKCS#8.
fn parse_key(pem: &str) -> Result<KeyPair, String> {
    if pem.contains("RSA PRIVATE KEY") {
        let key =
            rsa::RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| format!("invalid key: {e}"))?;
        return signing_key(&key);
    }
    KeyPair::from_pem(pem).map_err(|e| format!("invalid key: {e}"))
}

fn text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Nil => String::new(),
        other => crate::print::to_string(other),
    }
}

fn days(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Str(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::List(items) => items.iter().map(text).collect(),
        _ => Vec::new(),
    }
}

fn params(
    cn: &str,
    days: i64,
    ips: &[String],
    dns: &[String],
    ca: bool,
) -> Result<CertificateParams, String> {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, cn);
    params.distinguished_name = name;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now;
    params.not_after = now + time::Duration::days(days);
    let mut serial = [0u8; 16];
    OsRng.fill_bytes(&mut serial);
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
        ];
    } else {
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
    }
    for ip in ips {
        let addr: IpAddr = ip.parse().map_err(|_| format!("error parsing ip: {ip}"))?;
        params.subject_alt_names.push(SanType::IpAddress(addr));
    }
    for name in dns {
        let name = name
            .clone()
            .try_into()
            .map_err(|_| format!("invalid DNS name: {name}"))?;
        params.subject_alt_names.push(SanType::DnsName(name));
    }
    Ok(params)
}

/// Sprig's `certificate`: an object with `Cert` and `Key` (PEM).
fn certificate(cert: String, key: String) -> Value {
    Value::map(BTreeMap::from([
        ("Cert".to_owned(), Value::str(cert)),
        ("Key".to_owned(), Value::str(key)),
    ]))
}

/// The key to certify: `given` (PEM) or a fresh RSA 2048 one.
fn key_for(given: Option<&Value>) -> Result<(String, KeyPair), String> {
    match given {
        Some(pem) => {
            let pem = text(pem);
            Ok((pem.clone(), parse_key(&pem)?))
        }
        None => rsa_key(2048),
    }
}

fn gen_ca(cn: &Value, days_v: &Value, key: Option<&Value>) -> R {
    let (key_pem, key) = key_for(key)?;
    let cert = params(&text(cn), days(days_v), &[], &[], true)?
        .self_signed(&key)
        .map_err(|e| format!("error generating certificate: {e}"))?;
    Ok(certificate(cert.pem(), key_pem))
}

fn gen_self_signed(a: &[Value], key: Option<&Value>) -> R {
    let (key_pem, key) = key_for(key)?;
    let cert = params(
        &text(&a[0]),
        days(&a[3]),
        &strings(&a[1]),
        &strings(&a[2]),
        false,
    )?
    .self_signed(&key)
    .map_err(|e| format!("error generating certificate: {e}"))?;
    Ok(certificate(cert.pem(), key_pem))
}

fn ca_parts(ca: &Value) -> Result<(String, String), String> {
    let field = |name: &str| match ca {
        Value::Map(m) => m.get(name).map(|v| text(&v)),
        Value::Object(o) => o.field(name).map(|v| text(&v)),
        _ => None,
    };
    match (field("Cert"), field("Key")) {
        (Some(cert), Some(key)) => Ok((cert, key)),
        _ => Err("the CA must be a certificate made by genCA or buildCustomCert".into()),
    }
}

fn gen_signed(a: &[Value], key: Option<&Value>) -> R {
    let (ca_cert, ca_key) = ca_parts(&a[4])?;
    let issuer = Issuer::from_ca_cert_pem(&ca_cert, parse_key(&ca_key)?)
        .map_err(|e| format!("error parsing CA certificate: {e}"))?;
    let (key_pem, key) = key_for(key)?;
    let mut params = params(
        &text(&a[0]),
        days(&a[3]),
        &strings(&a[1]),
        &strings(&a[2]),
        false,
    )?;
    // As Go's x509 writes it: the issuer's key identifier in the certificate.
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| format!("error generating certificate: {e}"))?;
    Ok(certificate(cert.pem(), key_pem))
}

fn arity(name: &str, a: &[Value], n: usize) -> Result<(), String> {
    if a.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            a.len()
        ))
    }
}

/// Registers the certificate functions.
pub(crate) fn register(templates: &mut Templates) {
    type F = fn(&[Value]) -> R;
    let functions: [(&str, usize, F); 8] = [
        ("genCA", 2, |a| gen_ca(&a[0], &a[1], None)),
        ("genCAWithKey", 3, |a| gen_ca(&a[0], &a[1], Some(&a[2]))),
        ("genSelfSignedCert", 4, |a| gen_self_signed(a, None)),
        ("genSelfSignedCertWithKey", 5, |a| {
            gen_self_signed(a, Some(&a[4]))
        }),
        ("genSignedCert", 5, |a| gen_signed(a, None)),
        ("genSignedCertWithKey", 6, |a| gen_signed(a, Some(&a[5]))),
        ("buildCustomCert", 2, |a| {
            let b64 = base64::engine::general_purpose::STANDARD;
            let decode = |v: &Value, what: &str| {
                b64.decode(text(v).trim())
                    .ok()
                    .and_then(|d| String::from_utf8(d).ok())
                    .ok_or_else(|| format!("unable to decode base64 {what}"))
            };
            let (cert, key) = (decode(&a[0], "certificate")?, decode(&a[1], "private key")?);
            if !cert.contains("BEGIN CERTIFICATE") {
                return Err("error decoding certificate: not a PEM certificate".into());
            }
            parse_key(&key)?;
            Ok(certificate(cert, key))
        }),
        ("genPrivateKey", 1, |a| match text(&a[0]).as_str() {
            "rsa" => rsa_key(4096).map(|(pem, _)| Value::str(pem)),
            "ed25519" => KeyPair::generate_for(&rcgen::PKCS_ED25519)
                .map(|k| Value::str(k.serialize_pem()))
                .map_err(|e| e.to_string()),
            other => Err(format!(
                "genPrivateKey: key type {other:?} is not supported by Weir (rsa, ed25519)"
            )),
        }),
    ];
    for (name, n, func) in functions {
        templates.func(
            name,
            std::sync::Arc::new(move |a: &[Value]| {
                arity(name, a, n)?;
                func(a)
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_and_signed_certificates() {
        let ca = gen_ca(&Value::str("Test CA"), &Value::Int(10), None).unwrap();
        let (cert, key) = ca_parts(&ca).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(key.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let leaf = gen_signed(
            &[
                Value::str("server"),
                Value::list(vec![Value::str("10.0.0.1")]),
                Value::list(vec![Value::str("server.example.test")]),
                Value::Int(5),
                ca,
            ],
            None,
        )
        .unwrap();
        let (leaf_cert, _) = ca_parts(&leaf).unwrap();
        let der = rustls_pem(&leaf_cert);
        let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(parsed.issuer().to_string(), "CN=Test CA");
        assert_eq!(parsed.subject().to_string(), "CN=server");
        let b64 = base64::engine::general_purpose::STANDARD;
        let rebuilt = build_custom(&b64.encode(&cert), &b64.encode(&key));
        assert!(rebuilt.is_ok());
        assert!(
            gen_signed(
                &[
                    Value::str("x"),
                    Value::Nil,
                    Value::Nil,
                    Value::Int(1),
                    Value::Nil
                ],
                None
            )
            .is_err()
        );
    }

    fn build_custom(cert: &str, key: &str) -> R {
        let mut t = Templates::new();
        register(&mut t);
        let f = t.function("buildCustomCert").ok_or("missing")?;
        f(&[Value::str(cert), Value::str(key)])
    }

    fn rustls_pem(pem: &str) -> Vec<u8> {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }
}
