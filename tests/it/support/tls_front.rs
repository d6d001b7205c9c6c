//! A TLS-terminating front for the tests: accepts TLS on 127.0.0.1 with a certificate and key
//! (PEM files, e.g. a throwaway Dovecot's `tls/server.pem` and `tls/server.key`, signed by its
//! test CA) and passes the plain bytes on to a TCP target, so that a plain-HTTP fake (the
//! fake cloud) is reached over `https://127.0.0.1:PORT`. Stopped on drop.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

pub struct TlsFront {
    pub port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TlsFront {
    pub fn start(target: SocketAddr, cert: &Path, key: &Path) -> TlsFront {
        let certs = rustls_pemfile::certs(&mut std::fs::read(cert).expect("read cert").as_slice())
            .collect::<Result<Vec<_>, _>>()
            .expect("PEM certificates");
        let key =
            rustls_pemfile::private_key(&mut std::fs::read(key).expect("read key").as_slice())
                .expect("PEM key")
                .expect("a private key");
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate and key");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("TLS front runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind the TLS front");
                port_tx.send(listener.local_addr().unwrap().port()).unwrap();
                loop {
                    let tcp = tokio::select! {
                        _ = &mut stop_rx => break,
                        a = listener.accept() => match a {
                            Ok((tcp, _)) => tcp,
                            Err(_) => continue,
                        },
                    };
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        // A client that does not trust the certificate ends the handshake.
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let Ok(mut plain) = tokio::net::TcpStream::connect(target).await else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    });
                }
            });
        });
        let port = port_rx.recv().expect("TLS front port");
        TlsFront {
            port,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
