//! The TCP server's oracles and the replies it owes. Both oracles read the connections' own
//! record of what went over each socket (the [`Transcript`] TcpClient's close returned), which
//! lives outside the participants, so a crash cannot hide an answer written twice or a line
//! read and never answered.

use rehearsal_sim::scenario::{Outputs, Params};

use super::{Connection, End, Served, Transcript, script};

/// The answer to a line of `len` bytes that brings the connection's total to `total`.
pub fn thanks(len: u64, total: u64) -> String {
    format!("thank you for your message; {len} bytes, {total} total")
}

/// The goodbye after `lines` lines of `total` bytes in all.
pub fn goodbye(lines: u64, total: u64) -> String {
    let s = if lines == 1 { "" } else { "s" };
    format!("goodbye; {lines} message{s}, {total} bytes total")
}

/// What a client that sent `sent` (its last line `stop`, or the connection closed after
/// it) must have received, in order.
pub fn expected_replies(sent: &[String]) -> Vec<String> {
    let (mut lines, mut total) = (0u64, 0u64);
    let mut replies = Vec::with_capacity(sent.len() + 1);
    for line in sent {
        if line == "stop" {
            break;
        }
        lines += 1;
        total += line.len() as u64;
        replies.push(thanks(line.len() as u64, total));
    }
    replies.push(goodbye(lines, total));
    replies
}

/// Every connection's transcript at TcpClient, with its index, or why there is none.
fn transcripts(p: &Params, outcomes: &Outputs<Served>) -> Result<Vec<Transcript>, Vec<String>> {
    let served = outcomes.of("TcpClient").map_err(|e| vec![e])?;
    let want = p.get("connections") as usize;
    if served.connections.len() != want {
        return Err(vec![format!(
            "TcpClient saw {} connections; expected {want}",
            served.connections.len()
        )]);
    }
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for (i, c) in served.connections.iter().enumerate() {
        match c {
            Connection::Refused(e) => bad.push(format!("connection {i} was refused: {e}")),
            Connection::Closed(ended) => match ended.view().and_then(|e| e.client.view()) {
                Some(Ok(t)) => out.push(t.clone()),
                Some(Err(e)) => bad.push(format!("connection {i} did not close: {e}")),
                None => bad.push(format!("connection {i} has no transcript at TcpClient")),
            },
        }
    }
    if bad.is_empty() { Ok(out) } else { Err(bad) }
}

/// `replies-as-written`: each connection's replies, in order, with the right L and T, and the
/// goodbye once at the end; Handler's tally agrees; simulated clients sent their script.
pub(super) fn replies_as_written(p: &Params, outcomes: &Outputs<Served>) -> Vec<String> {
    let all = match transcripts(p, outcomes) {
        Ok(t) => t,
        Err(bad) => return bad,
    };
    let simulated = p.get("port") == 0;
    let mut bad = Vec::new();
    for (i, t) in all.iter().enumerate() {
        if simulated {
            let script = script(p).lines_of(i as u64);
            if t.sent != script {
                bad.push(format!(
                    "connection {i}: the server read {:?}; the client sent {script:?}",
                    t.sent
                ));
                continue;
            }
        }
        let want = expected_replies(&t.sent);
        if t.received != want {
            let at = t
                .received
                .iter()
                .zip(&want)
                .position(|(a, b)| a != b)
                .unwrap_or(t.received.len().min(want.len()));
            bad.push(format!(
                "connection {i}: reply #{at} was {:?}; expected {:?} ({} replies for {} expected)",
                t.received.get(at),
                want.get(at),
                t.received.len(),
                want.len()
            ));
        }
    }
    match outcomes.of("Handler") {
        Err(e) => bad.push(e),
        Ok(served) => {
            for (i, c) in served.connections.iter().enumerate() {
                let Connection::Closed(ended) = c else {
                    continue;
                };
                let Some(tally) = ended.view().and_then(|e| e.handler.view()) else {
                    bad.push(format!("connection {i} has no tally at Handler"));
                    continue;
                };
                let Some(t) = all.get(i) else { continue };
                let lines: Vec<&String> = t.sent.iter().take_while(|l| *l != "stop").collect();
                let total: u64 = lines.iter().map(|l| l.len() as u64).sum();
                if (tally.lines, tally.total) != (lines.len() as u64, total) {
                    bad.push(format!(
                        "connection {i}: Handler counted {} lines of {} bytes; the client sent {} of {total}",
                        tally.lines,
                        tally.total,
                        lines.len()
                    ));
                }
                if simulated && tally.end != Some(End::Stop) {
                    bad.push(format!(
                        "connection {i} ended with {:?}; the client sent `stop`",
                        tally.end
                    ));
                }
            }
        }
    }
    bad
}

/// `no-io-twice`: every read took one line and got one answer; nothing was read after the
/// goodbye (a replay that read its socket again would have taken a further line).
pub(super) fn no_io_twice(p: &Params, outcomes: &Outputs<Served>) -> Vec<String> {
    let all = match transcripts(p, outcomes) {
        Ok(t) => t,
        Err(bad) => return bad,
    };
    let simulated = p.get("port") == 0;
    let mut bad = Vec::new();
    for (i, t) in all.iter().enumerate() {
        let reads = t.reads as usize;
        let lines = t.sent.len();
        // A simulated client sends `stop` last, so a read that found its connection closed
        // was a read the server did not need.
        if simulated && reads != lines {
            bad.push(format!(
                "connection {i}: {reads} reads for the {lines} lines the client sent"
            ));
        }
        if t.received.len() != reads {
            bad.push(format!(
                "connection {i}: {} writes for {reads} reads",
                t.received.len()
            ));
        }
        if simulated && lines as u64 != p.get("lines") + 1 {
            bad.push(format!(
                "connection {i}: {lines} lines read; the client sent {}",
                p.get("lines") + 1
            ));
        }
    }
    bad
}
