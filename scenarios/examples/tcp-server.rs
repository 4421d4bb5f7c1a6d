//! The `tcp-server` scenario on real sockets: listens on 127.0.0.1:PORT, runs the listener
//! choreography on an in-process cluster (the real runtime, one node per role), serves
//! `--connections` clients and prints what went over each connection.
//!
//! ```text
//! cargo run -p rehearsal-scenarios --example tcp-server -- --port 7878 --connections 2
//! nc localhost 7878        # in another terminal, once per connection
//! ```

#[cfg(not(madsim))]
#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (port, connections) = match parse(&args) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("tcp-server: {e}\nusage: tcp-server [--port PORT] [--connections N]");
            std::process::exit(2);
        }
    };
    let sockets = match rehearsal_scenarios::tcp_server::TcpConnections::bind(("127.0.0.1", port)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tcp-server: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "listening on {}; serving {connections} connection(s) (try `nc localhost {}`)",
        sockets.local_addr(),
        sockets.local_addr().port()
    );
    let server = rehearsal_scenarios::tcp_server::TcpServer {
        connections,
        sockets: std::sync::Arc::new(sockets),
    };
    let program = match rehearsal::Program::new(server, &rehearsal::FamilySizes::new()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tcp-server: {e}");
            std::process::exit(2);
        }
    };
    let outcomes = rehearsal::LocalCluster::new().run(&program).await;
    let served = outcomes.get("TcpClient").map(|o| {
        o.as_ref().map_err(|e| e.to_string()).and_then(|json| {
            serde_json::from_str::<rehearsal_scenarios::tcp_server::Served>(json)
                .map_err(|e| e.to_string())
        })
    });
    match served {
        Some(Ok(served)) => {
            for (i, c) in served.connections.iter().enumerate() {
                print_connection(i, c);
            }
        }
        Some(Err(e)) => {
            eprintln!("tcp-server: the server failed: {e}");
            std::process::exit(1);
        }
        None => {
            eprintln!("tcp-server: no outcome for TcpClient");
            std::process::exit(1);
        }
    }
}

#[cfg(not(madsim))]
fn print_connection(i: usize, c: &rehearsal_scenarios::tcp_server::Connection) {
    use rehearsal_scenarios::tcp_server::Connection;
    match c {
        Connection::Refused(e) => println!("connection {i}: refused: {e}"),
        Connection::Closed(ended) => match ended.view().and_then(|e| e.client.view()) {
            Some(Ok(t)) => {
                println!(
                    "connection {i}: {} line(s) read, {} written",
                    t.sent.len(),
                    t.received.len()
                );
                for (n, line) in t.sent.iter().enumerate() {
                    println!("  < {line}");
                    if let Some(reply) = t.received.get(n) {
                        println!("  > {reply}");
                    }
                }
                for reply in t.received.iter().skip(t.sent.len()) {
                    println!("  > {reply}");
                }
            }
            Some(Err(e)) => println!("connection {i}: {e}"),
            None => println!("connection {i}: no transcript"),
        },
    }
}

/// `--port PORT` (default 7878, 0: any free port) and `--connections N` (default 1).
#[cfg(not(madsim))]
fn parse(args: &[String]) -> Result<(u16, u64), String> {
    let (mut port, mut connections) = (7878u16, 1u64);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--port" => {
                let v = value("--port")?;
                port = v
                    .parse()
                    .map_err(|_| format!("--port {v}: expected a whole number from 0 to 65535"))?;
            }
            "--connections" => {
                let v = value("--connections")?;
                connections = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=50).contains(n))
                    .ok_or_else(|| {
                        format!("--connections {v}: expected a whole number from 1 to 50")
                    })?;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok((port, connections))
}

#[cfg(madsim)]
fn main() {
    eprintln!(
        "tcp-server serves real sockets: build it in std mode (`cargo run -p rehearsal-scenarios --example tcp-server`)"
    );
    std::process::exit(2);
}
