//! `test-apiserver` binary: runs the in-process API server so kubectl can be pointed at it by hand.

use test_apiserver::{ServerOptions, TestApiServer};

fn usage() -> ! {
    eprintln!("usage: test-apiserver [--port PORT] [--kubeconfig-out FILE] [--controller]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut opts = ServerOptions::default();
    let mut kubeconfig_out = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => {
                opts.port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--kubeconfig-out" => kubeconfig_out = Some(args.next().unwrap_or_else(|| usage())),
            "--controller" => opts.controller = true,
            _ => usage(),
        }
    }
    let server = TestApiServer::start_with(opts).await?;
    if let Some(path) = kubeconfig_out {
        server.write_kubeconfig(std::path::Path::new(&path))?;
        eprintln!("kubeconfig written to {path}");
    }
    println!("{}", server.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
