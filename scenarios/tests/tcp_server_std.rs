//! The TCP server on real sockets (std mode): the listener choreography runs on an in-process
//! cluster, listening on 127.0.0.1 with a port the OS picks, and real clients (blocking
//! `std::net::TcpStream`s on threads of their own) talk to it over loopback.
#![cfg(not(madsim))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rehearsal::{FamilySizes, LocalCluster, Program};
use rehearsal_scenarios::find;
use rehearsal_scenarios::tcp_server::{Served, TcpConnections, TcpServer, goodbye, thanks};

/// Connects to `addr`, sends each line and reads its reply; `stop` (if last) gets the
/// goodbye; then reads until the server closes the connection. Returns every reply.
fn client(addr: SocketAddr, lines: &[&str], half_close: bool) -> Vec<String> {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut replies = Vec::new();
    for line in lines {
        writer.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut reply = String::new();
        reader.read_line(&mut reply).unwrap();
        replies.push(reply.trim_end_matches('\n').to_string());
    }
    if half_close {
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    replies.extend(rest.lines().map(str::to_string));
    replies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_get_the_replies_as_written() {
    let sockets = TcpConnections::bind("127.0.0.1:0").unwrap();
    let addr = sockets.local_addr();
    assert_ne!(addr.port(), 0, "the OS picked a port");
    let server = TcpServer {
        connections: 2,
        sockets: Arc::new(sockets),
    };
    let program = Program::new(server, &FamilySizes::new()).unwrap();
    let served = tokio::spawn(async move { LocalCluster::new().run(&program).await });

    // One client says stop (one line ends with CRLF, as telnet sends it); the other closes
    // its side without saying stop. Connections are accepted in order: the first client
    // has finished before the second connects.
    let first = tokio::task::spawn_blocking(move || {
        client(addr, &["hello", "", "twelve bytes\r", "stop"], false)
    })
    .await
    .unwrap();
    assert_eq!(
        first,
        [thanks(5, 5), thanks(0, 5), thanks(12, 17), goodbye(3, 17),]
    );
    assert_eq!(first[0], "thank you for your message; 5 bytes, 5 total");
    assert_eq!(first[3], "goodbye; 3 messages, 17 bytes total");
    let second = tokio::task::spawn_blocking(move || client(addr, &["héllo"], true))
        .await
        .unwrap();
    assert_eq!(second, [thanks(6, 6), goodbye(1, 6)]);

    let outcomes = served.await.unwrap();
    assert!(outcomes.all_ok(), "{outcomes}");
    // The scenario's own oracles, over the server side's transcripts.
    let scenario = find("tcp-server").unwrap();
    let params = scenario.parse_params(["connections=2", "port=1"]).unwrap();
    let violations = scenario.check(&params, &outcomes, &outcomes);
    assert!(violations.is_empty(), "{violations:#?}\n{outcomes}");
    let at_client: Served =
        serde_json::from_str(outcomes.get("TcpClient").unwrap().as_ref().unwrap()).unwrap();
    assert_eq!(at_client.address, addr.to_string());
    assert_eq!(at_client.connections.len(), 2);
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let scenario = find("tcp-server").unwrap();
    let params = scenario
        .parse_params([format!("port={port}").as_str()])
        .unwrap();
    let e = scenario.program(&params).err().unwrap().to_string();
    assert!(
        e.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{e}"
    );
    let e = scenario.parse_params(["port=65536"]).unwrap_err();
    assert!(e.contains("out of range"), "{e}");
}
