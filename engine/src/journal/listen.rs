//! The fleet listener: a connection of its own to the journal's PostgreSQL database that
//! `LISTEN`s on the project's channel (see `fleet.rs`), on a thread of its own, so that it
//! never waits behind the journal's connection and the journal never waits behind it. It
//! reconnects when the connection is lost (every 0.5 s at first, then up to every 5 s), and
//! says so: its owner reads the fleet commands it missed from the journal when it hears
//! [`FleetSignal::Listening`] again. A quiet connection is checked every 5 s (an empty
//! query answered within 5 s), so a dead network is noticed in seconds, not at TCP's pace.
//! The thread ends soon after the receiver is dropped.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use super::fleet::LISTENER_NAME;
use super::pg::{configured, hint};
use super::sql::SqlError;
use crate::config::PgTarget;

/// What the listener tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetSignal {
    /// Listening (first, or again after a loss): read the commands missed meanwhile.
    Listening,
    /// A notification on the channel, its payload.
    Notified(String),
    /// The connection is lost (or could not be made): why; it is being made again.
    Lost(String),
}

/// How often a quiet connection is checked, and how long the check may take.
const PING: Duration = Duration::from_secs(5);

/// Listen on `channel` of the journal's database; the signals come through the returned
/// receiver until it is dropped. Fails only when the target cannot be configured (its URL,
/// password or TLS); a server that cannot be reached is a [`FleetSignal::Lost`] and is tried
/// again.
pub fn listen(
    target: &PgTarget,
    channel: &str,
) -> Result<mpsc::UnboundedReceiver<FleetSignal>, SqlError> {
    let (config, tls) = configured(target, LISTENER_NAME)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let sql = format!("LISTEN \"{}\"", channel.replace('"', "\"\""));
    let target = target.clone();
    std::thread::Builder::new()
        .name("journal-listen".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(FleetSignal::Lost(format!("listener thread: {e}")));
                    return;
                }
            };
            rt.block_on(async move {
                let mut backoff = Duration::from_millis(500);
                loop {
                    let why = match session(&config, &tls, &sql, &tx).await {
                        Ok(why) => {
                            backoff = Duration::from_millis(500);
                            why
                        }
                        Err(e) => hint(&target, SqlError::from(e)).to_string(),
                    };
                    if tx.is_closed() || tx.send(FleetSignal::Lost(why)).is_err() {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = tx.closed() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            });
        })
        .map_err(|e| SqlError::Lost(format!("cannot start the listener's thread: {e}")))?;
    Ok(rx)
}

/// One connection: connect, LISTEN, forward notifications until it is lost (the reason) or
/// the receiver is gone.
async fn session(
    config: &tokio_postgres::Config,
    tls: &tokio_postgres_rustls::MakeRustlsConnect,
    sql: &str,
    tx: &mpsc::UnboundedSender<FleetSignal>,
) -> Result<String, tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tls.clone()).await?;
    let (ntx, mut nrx) = mpsc::unbounded_channel();
    // The connection is driven here, notifications handed on as they come.
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notification(n)) => {
                    let _ = ntx.send(n.payload().to_string());
                }
                Ok(_) => {}
                Err(e) => return format!("connection lost: {e}"),
            }
        }
        "connection closed by the server".to_string()
    });
    let listening = client.batch_execute(sql).await;
    if let Err(e) = listening {
        driver.abort();
        return Err(e);
    }
    if tx.send(FleetSignal::Listening).is_err() {
        driver.abort();
        return Ok(String::new());
    }
    let mut ping = tokio::time::interval(PING);
    ping.tick().await;
    loop {
        tokio::select! {
            n = nrx.recv() => match n {
                Some(p) => {
                    if tx.send(FleetSignal::Notified(p)).is_err() {
                        driver.abort();
                        return Ok(String::new());
                    }
                }
                None => break,
            },
            _ = ping.tick() => {
                match tokio::time::timeout(PING, client.batch_execute("")).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        driver.abort();
                        return Ok(format!("connection lost: {e}"));
                    }
                    Err(_) => {
                        driver.abort();
                        return Ok(format!("no answer to a check within {} s", PING.as_secs()));
                    }
                }
            }
            _ = tx.closed() => {
                driver.abort();
                return Ok(String::new());
            }
        }
    }
    Ok(driver
        .await
        .unwrap_or_else(|e| format!("listener task ended: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::fleet::fleet_channel;

    async fn next(rx: &mut mpsc::UnboundedReceiver<FleetSignal>) -> FleetSignal {
        tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("a signal within 20 s")
            .expect("the listener runs")
    }

    /// A command is heard within a second of its commit; a listener whose connection is
    /// killed says so, listens again, and hears the next one.
    #[tokio::test]
    async fn a_listener_hears_commands_and_listens_again_after_a_loss() {
        let (_d, s) = crate::journal::db::store_postgres();
        let target = s.postgres_target().unwrap().clone();
        let channel = fleet_channel("fleet \"test\"");
        let mut rx = listen(&target, &channel).unwrap();
        assert_eq!(next(&mut rx).await, FleetSignal::Listening);
        let t = std::time::Instant::now();
        let c = s
            .issue_fleet_command(&channel, "stop", None, "ann", "h:1")
            .unwrap();
        assert_eq!(next(&mut rx).await, FleetSignal::Notified(c.payload()));
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        // Another channel is not heard.
        s.issue_fleet_command("cutover:other", "stop", None, "x", "h:2")
            .unwrap();
        // The listening connection is killed from outside.
        let killed: i64 = s
            .with(|c| {
                c.query_row(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ?1 AND datname = current_database()) AS k",
                    crate::journal::sql::params![LISTENER_NAME],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(killed, 1);
        assert!(matches!(next(&mut rx).await, FleetSignal::Lost(_)));
        assert_eq!(next(&mut rx).await, FleetSignal::Listening);
        let c = s
            .issue_fleet_command(&channel, "pause", Some("b"), "ann", "h:1")
            .unwrap();
        assert_eq!(next(&mut rx).await, FleetSignal::Notified(c.payload()));
    }
}
