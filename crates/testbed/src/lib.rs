//! Test bed shared by the integration tests, the benchmark and the local dev
//! server: moto (AWS) on loopback, a fake Stripe built from Stripe's published
//! fixtures, and a Lambda Runtime API emulator.

pub mod moto;
pub mod proxy;
pub mod runtime_api;
pub mod stripe;

use std::io;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Serves `app` on `listener` in a background task, with TCP_NODELAY on
/// every connection: without it delayed ACK adds ~40 ms to keep-alive
/// requests and hides the real latency. Aborting the handle stops it.
pub fn serve(listener: TcpListener, app: axum::Router) -> JoinHandle<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "server stopped");
        }
    })
}

/// Binds a free loopback port and [`serve`]s `app` there.
pub async fn serve_loopback(app: axum::Router) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((addr, serve(listener, app)))
}
