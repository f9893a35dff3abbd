//! `test-apiserver` binary: runs the in-process API server so kubectl can be pointed at it by hand.

use test_apiserver::{ServerOptions, TestApiServer};

fn usage() -> ! {
    eprintln!(
        "usage: test-apiserver [--port PORT] [--kubeconfig-out FILE] [--controller] \
         [--rtt DURATION] [--tls [--client-cert USER] [--disable-http2-serving]]\n\
         --rtt DURATION (2ms, 500us, 0) holds every answer that long, and every new \
         connection once more per handshake: the round trip of a cluster not on loopback\n\
         --tls serves HTTPS with a fresh CA (the kubeconfig trusts it), HTTP/2 or HTTP/1.1 as \
         the client chooses by ALPN; --client-cert USER makes the kubeconfig authenticate as \
         USER with a certificate that CA signed; --disable-http2-serving offers HTTP/1.1 only"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut opts = ServerOptions::default();
    let mut kubeconfig_out = None;
    let mut client_cert_user = None;
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
            "--rtt" => {
                let value = args.next().unwrap_or_else(|| usage());
                opts.rtt = humantime::parse_duration(&value).unwrap_or_else(|e| {
                    eprintln!("--rtt {value:?}: {e} (a duration like 2ms, 500us or 0)");
                    usage()
                })
            }
            "--tls" => opts.tls = true,
            "--disable-http2-serving" => opts.disable_http2 = true,
            "--client-cert" => client_cert_user = Some(args.next().unwrap_or_else(|| usage())),
            _ => usage(),
        }
    }
    if (client_cert_user.is_some() || opts.disable_http2) && !opts.tls {
        eprintln!("--client-cert and --disable-http2-serving need --tls");
        usage();
    }
    let server = TestApiServer::start_with(opts).await?;
    if let Some(path) = kubeconfig_out {
        let kubeconfig = match &client_cert_user {
            Some(user) => {
                let (cert, key) = server.client_certificate(user, &[])?;
                server.kubeconfig_yaml_with_client_cert(&cert, &key)
            }
            None => server.kubeconfig_yaml(),
        };
        std::fs::write(&path, kubeconfig)?;
        eprintln!("kubeconfig written to {path}");
    }
    println!("{}", server.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
