//! `cargo run -p local`: the ticket shop on http://127.0.0.1:3000, offline.

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,hyper=warn,h2=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).init();

    let options = match local::Options::from_env_and_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let server = match local::Server::start(options).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("tdf-local: {e}");
            std::process::exit(1);
        }
    };
    println!("{}\n", server.banner());
    let _ = tokio::signal::ctrl_c().await;
    println!("\ntdf-local: stopped");
}
