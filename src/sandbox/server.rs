//! The accept loop: hyper HTTP/1 connections around the axum router, with the one thing
//! `axum::serve` cannot do (closing a connection without any response) and graceful shutdown.

use std::convert::Infallible;
use std::fmt;
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// How long a shutdown waits for requests in flight before cutting their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Response extension: the connection must be closed without sending this response.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DropConnection;

/// A response the handler wants never to reach the client.
pub(crate) fn drop_connection() -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    response.extensions_mut().insert(DropConnection);
    response
}

/// The service error that makes hyper close the connection without writing a response.
#[derive(Debug)]
struct ConnectionDropped;

impl fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sandbox dropped the connection on purpose")
    }
}

impl std::error::Error for ConnectionDropped {}

/// Serves until `stop` turns true or its sender is dropped.
pub(crate) async fn serve(listener: TcpListener, router: Router, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, router.clone(), stop.clone()));
                }
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(error = %e, "sandbox accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = stopped(&mut stop) => break,
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::debug!("sandbox shutdown grace expired; cutting connections");
    }
    // Dropping the JoinSet aborts whatever is left.
    tracing::debug!("sandbox stopped");
}

async fn serve_connection(stream: TcpStream, router: Router, mut stop: watch::Receiver<bool>) {
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let router = router.clone();
        async move {
            let response = router
                .oneshot(request)
                .await
                .unwrap_or_else(|e: Infallible| match e {});
            if response.extensions().get::<DropConnection>().is_some() {
                Err(ConnectionDropped)
            } else {
                Ok(response)
            }
        }
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stopped(&mut stop) => {
            // Finish the request in flight, if any, then close.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "sandbox connection ended");
    }
}

/// Resolves once shutdown is requested (or the `Sandbox` is gone). The `watch::Ref` that
/// `wait_for` yields is dropped here, so it is never held across an await.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
