//! rustls-peer: a TLS client or server made of Debian's rustls 0.20, for ecaptureq's
//! capture tests.
//!   rustls-peer client HOST PORT PATH [N] sends GET PATH, prints the whole response; with
//!                                          N, N connections one after another (GET PATH-0 ..)
//!   rustls-peer server PORT CERT.der KEY.der   prints "ready N", answers one request
//!                                          with "hello PATH", then exits
//! The client trusts any certificate: the test checks capture, not verification.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::SystemTime;

struct AnyCert;

impl rustls::client::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::Certificate,
        _: &[rustls::Certificate],
        _: &rustls::ServerName,
        _: &mut dyn Iterator<Item = &[u8]>,
        _: &[u8],
        _: SystemTime,
    ) -> Result<rustls::client::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::ServerCertVerified::assertion())
    }
}

fn client(host: &str, port: &str, path: &str) {
    let config = rustls::ClientConfig::builder()
        .with_safe_defaults()
        .with_custom_certificate_verifier(Arc::new(AnyCert))
        .with_no_client_auth();
    let name = "localhost".try_into().expect("server name");
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let mut sock = TcpStream::connect(format!("{}:{}", host, port)).expect("connect");
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    let req = format!("GET {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
    tls.write_all(req.as_bytes()).expect("write");
    let mut resp = Vec::new();
    // a peer that closes without close_notify ends the read with an error: keep what came
    let _ = tls.read_to_end(&mut resp);
    std::io::stdout().write_all(&resp).expect("stdout");
}

fn server(port: &str, cert: &str, key: &str) {
    let cert = rustls::Certificate(std::fs::read(cert).expect("cert"));
    let key = rustls::PrivateKey(std::fs::read(key).expect("key"));
    let config = rustls::ServerConfig::builder()
        .with_safe_defaults()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server config");
    let listener = TcpListener::bind(format!("127.0.0.1:{}", port)).expect("bind");
    println!("ready {}", listener.local_addr().expect("addr").port());
    std::io::stdout().flush().expect("stdout");
    let (mut sock, _) = listener.accept().expect("accept");
    let mut conn = rustls::ServerConnection::new(Arc::new(config)).expect("server");
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    let mut line = String::new();
    let mut reader = BufReader::new(&mut tls);
    reader.read_line(&mut line).expect("request line");
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).expect("header") == 0 || header == "\r\n" {
            break;
        }
    }
    let body = format!("hello {}\n", path);
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        body
    );
    tls.write_all(resp.as_bytes()).expect("write");
    tls.conn.send_close_notify();
    tls.flush().expect("flush");
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    match a.get(1).map(String::as_str) {
        Some("client") if a.len() == 5 => client(&a[2], &a[3], &a[4]),
        Some("client") if a.len() == 6 => {
            for i in 0..a[5].parse::<u32>().expect("N") {
                client(&a[2], &a[3], &format!("{}-{}", a[4], i));
            }
        }
        Some("server") if a.len() == 5 => server(&a[2], &a[3], &a[4]),
        _ => {
            eprintln!("usage: rustls-peer client HOST PORT PATH [N] | server PORT CERT.der KEY.der");
            std::process::exit(2);
        }
    }
}
