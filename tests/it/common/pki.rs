//! A small certificate authority made by openssl for the TLS tests that verify like a real
//! deployment does (OpenStack's VeNCrypt proxy): a CA, a server certificate for 127.0.0.1
//! signed by it, and a client certificate signed by it.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files of one authority: the CA's certificate (what clients trust), the server's and a
/// client's certificate and key (keys mode 0600).
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// Makes a CA named `name` and its two certificates under `dir` (file names start with
/// `name`, so that two authorities may share a directory).
pub fn authority(dir: &Path, name: &str) -> Pki {
    let file = |what: &str| dir.join(format!("{name}-{what}.pem"));
    let pki = Pki {
        ca: file("ca"),
        server_cert: file("server"),
        server_key: file("server-key"),
        client_cert: file("client"),
        client_key: file("client-key"),
    };
    let ca_key = file("ca-key");
    openssl(&[
        "-subj",
        &format!("/CN={name} test CA"),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout",
        path(&ca_key),
        "-out",
        path(&pki.ca),
    ]);
    let signed_by_ca = ["-CA", path(&pki.ca), "-CAkey", path(&ca_key)];
    openssl(
        &[
            &signed_by_ca[..],
            &[
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-addext",
                "extendedKeyUsage=serverAuth",
                "-keyout",
                path(&pki.server_key),
                "-out",
                path(&pki.server_cert),
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &signed_by_ca[..],
            &[
                "-subj",
                &format!("/CN={name} proxy"),
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-addext",
                "extendedKeyUsage=clientAuth",
                "-keyout",
                path(&pki.client_key),
                "-out",
                path(&pki.client_cert),
            ],
        ]
        .concat(),
    );
    for key in [&ca_key, &pki.server_key, &pki.client_key] {
        // serve warns about a key others can read; a real deployment's keys are private.
        std::fs::set_permissions(key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    }
    pki
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `openssl req -x509` with a new P-256 key, valid two days, and `args`.
fn openssl(args: &[&str]) {
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(args)
        .output()
        .expect("openssl");
    assert!(made.status.success(), "openssl req {args:?}: {made:?}");
}
