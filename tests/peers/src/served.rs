//! An axum app served in the background on a loopback listener, for the test servers: stopped
//! gracefully by `shutdown`, at once on drop.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Binds `listen`, which must be a loopback address (`what` names the server in the error).
pub(crate) async fn bind_loopback(listen: SocketAddr, what: &str) -> io::Result<TcpListener> {
    if !listen.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the {what} listens on loopback only, not {listen}"),
        ));
    }
    TcpListener::bind(listen).await
}

/// The background task serving an app.
#[derive(Debug)]
pub(crate) struct Served {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Served {
    pub(crate) fn start(listener: TcpListener, app: Router) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Self {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops accepting, lets open requests finish (bounded by 5 s), and returns.
    pub(crate) async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // Open keep-alive connections would hold graceful shutdown; nobody waits for it here.
            task.abort();
        }
    }
}
