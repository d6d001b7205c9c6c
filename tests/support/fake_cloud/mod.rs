//! A stateful fake of the cloud services cutover talks to over HTTP (Microsoft Entra and
//! Google token endpoints, Microsoft Graph mail, the Gmail API), for the endpoint contract
//! tests: these services cannot be reached from here. It is a real HTTP server on 127.0.0.1
//! that keeps what it receives and enforces the documented contract (tokens it issued, for
//! the right resource, unexpired; the rate, size and concurrency limits with 429 and
//! Retry-After; the services' error bodies), so that cutover is tested against the contract
//! rather than against its own assumptions.
//!
//! One server hosts every service; each lives in its own module with its own state.

pub mod graph;
pub mod token;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;

/// A running fake cloud (stopped when dropped).
pub struct FakeCloud {
    pub addr: SocketAddr,
    pub tokens: Arc<token::Tokens>,
    pub graph: Arc<graph::FakeGraph>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeCloud {
    /// Start the fake with the OAuth2 clients it accepts.
    pub fn start(tokens: token::Tokens) -> FakeCloud {
        Self::start_with(tokens, graph::FakeGraph::new(graph::GraphConfig::default()))
    }

    /// Start the fake with the OAuth2 clients it accepts and a Graph with its mailboxes.
    pub fn start_with(tokens: token::Tokens, graph: graph::FakeGraph) -> FakeCloud {
        let tokens = Arc::new(tokens);
        let graph = Arc::new(graph);
        let app = Router::new()
            .merge(token::router(tokens.clone()))
            .merge(graph::router(graph.clone(), tokens.clone()));
        Self::serve(app, tokens, graph)
    }

    fn serve(app: Router, tokens: Arc<token::Tokens>, graph: Arc<graph::FakeGraph>) -> FakeCloud {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("fake cloud runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind the fake cloud");
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .expect("fake cloud server");
            });
        });
        let addr = addr_rx.recv().expect("fake cloud address");
        FakeCloud {
            addr,
            tokens,
            graph,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FakeCloud {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
