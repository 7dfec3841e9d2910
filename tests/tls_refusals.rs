//! Issue 18: broker certificates that must be refused, each in one line naming the cause, with
//! exit 1. Made here with openssl (`openssl ca` for past and future validity), served by
//! `openssl s_server`: the handshake is judged before any Kafka byte, so no broker is needed.
//! Both crypto providers (graviola and the portable one) are held to the same words.
//! A control with a good X.509 v1 certificate gets through the handshake (and then waits, as
//! at every start, for a Kafka answer that s_server never sends), so each refusal is the
//! certificate's fault.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Output, producer, run};

/// A TLS server presenting a certificate (and chain); stopped when dropped.
struct Server {
    child: Child,
    _stdin: Option<ChildStdin>,
    addr: String,
}

impl Server {
    fn start(dir: &Path, cert: &str, key: &str, chain: Option<&str>) -> Server {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new("openssl");
        cmd.current_dir(dir).args(["s_server", "-quiet", "-accept", &format!("127.0.0.1:{port}")]);
        cmd.args(["-cert", cert, "-key", key]);
        if let Some(chain) = chain {
            cmd.args(["-cert_chain", chain]);
        }
        // stdin stays open: s_server ends its session on end of input.
        cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = cmd.spawn().expect("openssl s_server");
        let stdin = child.stdin.take();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server { child, _stdin: stdin, addr: format!("localhost:{port}") }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The certificates: a CA; for CN=localhost (no extensions, so X.509 v1, as the Kafka docs make
/// them): a good one, one signed by a CA not configured, an expired one, one valid only from
/// 2099, one whose signature was altered; an expired v3 one with a subjectAltName (webpki's
/// path); a v1 certificate acting as intermediate CA and a leaf it signed.
fn certificates() -> PathBuf {
    let dir = common::tempdir("refusals");
    let d = dir.as_path();
    let subj = ["-subj", "/CN=refusal-ca", "-addext", "basicConstraints=critical,CA:TRUE"];
    let ca_args =
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30"];
    openssl(d, &[&ca_args[..], &subj[..]].concat());
    for who in ["leaf", "inter"] {
        let cn = if who == "leaf" { "/CN=localhost" } else { "/CN=refusal-v1-intermediate" };
        let (key, csr) = (format!("{who}.key"), format!("{who}.csr"));
        openssl(d, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", cn]);
    }
    std::fs::write(
        d.join("ca.cnf"),
        "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n\
         default_md = sha256\npolicy = p\nunique_subject = no\n[p]\ncommonName = supplied\n",
    )
    .unwrap();
    std::fs::write(d.join("index.txt"), "").unwrap();
    std::fs::write(d.join("serial"), "1000\n").unwrap();
    std::fs::write(d.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    let ca = |out: &str, start: &str, end: &str, ext: bool| {
        let mut args = vec!["ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key"];
        args.extend(["-in", "leaf.csr", "-out", out, "-startdate", start, "-enddate", end]);
        if ext {
            args.extend(["-extfile", "san.ext"]);
        }
        openssl(d, &args);
    };
    ca("expired.pem", "20200101000000Z", "20210101000000Z", false);
    ca("future.pem", "20990101000000Z", "21000101000000Z", false);
    ca("expired-v3.pem", "20200101000000Z", "20210101000000Z", true);
    let sign = |csr: &str, issuer: &str, out: &str| {
        let key = issuer.replace(".pem", ".key");
        openssl(
            d,
            &["x509", "-req", "-in", csr, "-CA", issuer, "-CAkey", &key, "-CAcreateserial", "-days", "30", "-out", out],
        );
    };
    sign("leaf.csr", "ca.pem", "good.pem");
    // A CA nobody configured: its leaf is a certificate of an unknown issuer.
    let other = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem"];
    openssl(d, &[&other[..], &["-days", "30", "-subj", "/CN=refusal-other-ca"][..]].concat());
    sign("leaf.csr", "other.pem", "other-ca-leaf.pem");
    sign("inter.csr", "ca.pem", "inter.pem");
    sign("leaf.csr", "inter.pem", "via-v1-ca.pem");
    // The last byte of the DER is the signature's: flipped, the certificate still parses.
    openssl(d, &["x509", "-in", "good.pem", "-outform", "DER", "-out", "good.der"]);
    let mut der = std::fs::read(d.join("good.der")).unwrap();
    *der.last_mut().unwrap() ^= 0x01;
    std::fs::write(d.join("altered.der"), der).unwrap();
    openssl(d, &["x509", "-inform", "DER", "-in", "altered.der", "-out", "altered.pem"]);
    dir
}

const ARGS: [&str; 3] = ["--max-events=1", "--delivery-timeout-ms=3000", "--request-timeout-ms=3000"];

fn connect(dir: &Path, server: &Server, provider: &str) -> Output {
    let bootstrap = format!("--bootstrap-servers={}", server.addr);
    let mut cmd = producer(&[&[bootstrap.as_str()][..], &ARGS[..]].concat());
    cmd.env("KAFKA_SECURITY_PROTOCOL", "SSL").env("KAFKA_SSL_CA_LOCATION", dir.join("ca.pem"));
    cmd.env("KAFKA_SSL_PROVIDER", provider);
    run(cmd, Duration::from_secs(60))
}

#[test]
fn a_good_v1_certificate_passes_the_handshake_the_refusals_are_measured_against() {
    let dir = certificates();
    let server = Server::start(&dir, "good.pem", "leaf.key", None);
    // A start waits for a broker that answers, for ever: stopped after 6 s by `timeout`.
    for provider in ["graviola", "portable"] {
        let bootstrap = format!("--bootstrap-servers={}", server.addr);
        let mut cmd = Command::new("timeout");
        cmd.args([&["6", common::BIN, bootstrap.as_str()][..], &ARGS[..]].concat());
        cmd.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
        cmd.env("KAFKA_SECURITY_PROTOCOL", "SSL").env("KAFKA_SSL_CA_LOCATION", dir.join("ca.pem"));
        cmd.env("KAFKA_SSL_PROVIDER", provider);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = run(cmd, Duration::from_secs(60));
        assert_eq!(out.code(), 124, "{provider}: still waiting when stopped: {}", out.stderr);
        assert!(out.stderr.contains("did not answer within 3000 ms"), "{provider}: {}", out.stderr);
        assert!(!out.stderr.contains("certificate"), "{provider}: the handshake passed: {}", out.stderr);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn broker_certificates_that_must_be_refused_are_named_in_one_line() {
    let dir = certificates();
    let cases = [
        ("other-ca-leaf.pem", None, "its certificate is not signed by a trusted CA"),
        ("expired.pem", None, "its certificate expired on 2021-01-01 00:00:00 UTC (it is now "),
        ("expired-v3.pem", None, "its certificate expired on 2021-01-01 00:00:00 UTC (it is now "),
        ("future.pem", None, "its certificate is not valid before 2099-01-01 00:00:00 UTC (it is now "),
        ("altered.pem", None, "its certificate carries a signature that does not verify"),
        (
            "via-v1-ca.pem",
            Some("inter.pem"),
            "names as its issuer an X.509 v1 certificate (refusal-v1-intermediate), which cannot be a CA",
        ),
    ];
    // Both crypto providers (issue 23) refuse each, in the same words.
    for provider in ["graviola", "portable"] {
        for (cert, chain, want) in cases {
            let server = Server::start(&dir, cert, "leaf.key", chain);
            let out = connect(&dir, &server, provider);
            let case = format!("{cert} with {provider}");
            assert_eq!(out.code(), 1, "{case}: {}", out.stderr);
            let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("pos-producer: error: ")).collect();
            assert_eq!(errors.len(), 1, "{case}: one line: {}", out.stderr);
            assert!(errors[0].contains(want), "{case}: want {want:?} in {}", out.stderr);
            assert!(errors[0].contains(&server.addr), "{case}: the broker is named: {}", errors[0]);
            for line in out.stderr.lines() {
                assert!(!line.contains("Context {") && !line.contains("Other("), "a debug value: {line}");
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
