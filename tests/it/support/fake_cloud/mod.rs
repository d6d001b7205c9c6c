//! A stateful fake of the cloud services cutover talks to over HTTP (Microsoft Entra and
//! Google token endpoints, Microsoft Graph mail, the Gmail API), for the endpoint contract
//! tests: these services cannot be reached from here. It is a real HTTP server on 127.0.0.1
//! that keeps what it receives and enforces the documented contract (tokens it issued, for
//! the right resource, unexpired; the rate, size and concurrency limits with 429 and
//! Retry-After; the services' error bodies), so that cutover is tested against the contract
//! rather than against its own assumptions.
//!
//! One server hosts every service; each lives in its own module with its own state.

pub mod gmail;
pub mod gmail_history;
pub mod google_calendar;
pub mod google_directory;
pub mod google_people;
pub mod graph;
pub mod graph_calendar;
pub mod graph_calendar_route;
pub mod graph_calendar_time;
pub mod graph_contacts;
pub mod graph_directory;
pub mod graph_export;
pub mod graph_mailbox;
pub mod token;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;

/// A running fake cloud (stopped when dropped).
pub struct FakeCloud {
    pub addr: SocketAddr,
    pub tokens: Arc<token::Tokens>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeCloud {
    /// Start the fake with the OAuth2 clients it accepts.
    pub fn start(tokens: token::Tokens) -> FakeCloud {
        let tokens = Arc::new(tokens);
        let app = Router::new().merge(token::router(tokens.clone()));
        Self::serve(app, tokens)
    }

    /// Start the fake with the token endpoint and the services `services` adds (each service
    /// module's router, given the shared token registry to check bearer tokens against).
    pub fn start_with(
        tokens: token::Tokens,
        services: impl FnOnce(Arc<token::Tokens>) -> Router,
    ) -> FakeCloud {
        let tokens = Arc::new(tokens);
        let app = Router::new()
            .merge(token::router(tokens.clone()))
            .merge(services(tokens.clone()));
        Self::serve(app, tokens)
    }

    fn serve(app: Router, tokens: Arc<token::Tokens>) -> FakeCloud {
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

/// A fake cloud hosting both services, Microsoft Graph and the Gmail API, with their state
/// for the test to read (`c.graph.mailbox(..)`, `c.gmail.messages(..)`); it derefs to the
/// [`FakeCloud`] (address, URL, token registry).
pub struct Cloud {
    pub cloud: FakeCloud,
    pub graph: Arc<graph::FakeGraph>,
    pub gmail: Arc<gmail::Gmail>,
}

impl Cloud {
    /// Start the fake with the OAuth2 clients of `tokens`, this Graph, and the Gmail API
    /// `make_gmail` makes of one without users.
    pub fn start(
        tokens: token::Tokens,
        graph: graph::FakeGraph,
        make_gmail: impl FnOnce(gmail::Gmail) -> gmail::Gmail,
    ) -> Cloud {
        let graph = Arc::new(graph);
        let (g, mut started) = (graph.clone(), None);
        let cloud = FakeCloud::start_with(tokens, |t| {
            let gm = Arc::new(make_gmail(gmail::Gmail::new(t.clone())));
            started = Some(gm.clone());
            graph::router(g, t).merge(gmail::router(gm))
        });
        Cloud {
            cloud,
            graph,
            gmail: started.expect("the services were started"),
        }
    }
}

impl std::ops::Deref for Cloud {
    type Target = FakeCloud;
    fn deref(&self) -> &FakeCloud {
        &self.cloud
    }
}
