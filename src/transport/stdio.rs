//! NDJSON over a byte stream (§4): one frame per line.
//!
//! [`from_io`] adapts any reader/writer pair; [`connect`] uses a spawned
//! target's stdin/stdout, and [`own_stdio`] the harness's own (for
//! `serve --stdio`). Line splitting lives in one place, [`read_lines`].

use super::process::{self, describe_status, ProcessWatch, SpawnOptions};
use super::{Conn, Inbound, TransportError, TransportFault, TransportOptions, CHANNEL_DEPTH};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter,
    ReadBuf,
};
use tokio::sync::mpsc;

/// Read buffer size; also the largest chunk copied while skipping an oversize line.
const READ_CHUNK: usize = 64 * 1024;

/// Lines longer than this are read one at a time across the run ([`BIG_FRAMES`]).
const BIG_FRAME: usize = 1024 * 1024;
static BIG_FRAMES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// After a target closes stdout, how long to wait for its exit status so the
/// Closed reason can name it. Processes normally exit right after.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// Spawn `command` (via `sh -c`) and speak NDJSON over its stdin/stdout.
/// The returned `Conn` owns the process: dropping it kills the process group.
pub async fn connect(command: &str, opts: &TransportOptions) -> Result<Conn, TransportError> {
    connect_with(command, opts, &SpawnOptions::default()).await
}

/// [`connect`] with extra environment / working directory for the target.
pub async fn connect_with(
    command: &str,
    opts: &TransportOptions,
    spawn: &SpawnOptions,
) -> Result<Conn, TransportError> {
    let (guard, stdin, stdout) = process::spawn(command, spawn)?;
    let mut conn = wire(
        stdout,
        stdin,
        opts.frame_cap,
        format!("stdio: {command}"),
        Some(guard.watch()),
    );
    conn.process = Some(guard);
    Ok(conn)
}

/// NDJSON over an arbitrary reader/writer pair. Frames are written followed by
/// "\n" and flushed; they are not checked for embedded newlines, so a fuzzer
/// can send broken framing on purpose.
pub fn from_io<R, W>(reader: R, writer: W, frame_cap: usize, peer: impl Into<String>) -> Conn
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    wire(reader, writer, frame_cap, peer.into(), None)
}

/// NDJSON over the harness's own stdin/stdout, for `serve --stdio`.
///
/// Stdin is read on a dedicated thread rather than tokio's blocking pool: a
/// pool thread stuck in read(2) would make runtime shutdown wait forever.
pub fn own_stdio(frame_cap: usize) -> Conn {
    own_stdio_flushed(frame_cap).0
}

/// [`own_stdio`], and the writer task: await it after the connection is
/// done so the last frames reach stdout before the process exits.
pub fn own_stdio_flushed(frame_cap: usize) -> (Conn, tokio::task::JoinHandle<()>) {
    wire_with_writer(
        ThreadStdin::spawn(),
        tokio::io::stdout(),
        frame_cap,
        "stdio".into(),
        None,
    )
}

fn wire<R, W>(
    reader: R,
    writer: W,
    frame_cap: usize,
    peer: String,
    process: Option<ProcessWatch>,
) -> Conn
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    wire_with_writer(reader, writer, frame_cap, peer, process).0
}

fn wire_with_writer<R, W>(
    reader: R,
    writer: W,
    frame_cap: usize,
    peer: String,
    process: Option<ProcessWatch>,
) -> (Conn, tokio::task::JoinHandle<()>)
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let (out_tx, out_rx) = mpsc::channel(CHANNEL_DEPTH);
    let (in_tx, in_rx) = mpsc::channel(CHANNEL_DEPTH);
    let writer = tokio::spawn(write_lines(writer, out_rx));
    tokio::spawn(async move {
        let end = read_lines(reader, &in_tx, frame_cap).await;
        if in_tx.is_closed() {
            return;
        }
        let reason = match (end, process) {
            (Err(e), None) => format!("read error: {e}"),
            (Err(e), Some(_)) => format!("error reading the target's stdout: {e}"),
            (Ok(()), None) => "peer closed the stream".to_string(),
            (Ok(()), Some(w)) => exit_reason(&w).await,
        };
        let _ = in_tx.send(Inbound::Closed(reason)).await;
    });
    (Conn::new(out_tx, in_rx, peer), writer)
}

/// "target exited with status 3; stderr: ..." once the target has closed stdout.
async fn exit_reason(w: &ProcessWatch) -> String {
    let Some(status) = w.wait_exit(EXIT_GRACE).await else {
        return "target closed its stdout (still running)".to_string();
    };
    w.wait_output(Duration::from_millis(200)).await;
    let mut reason = format!("target {}", describe_status(&status));
    let tail = w.stderr_tail();
    let excerpt = stderr_excerpt(&tail);
    if !excerpt.is_empty() {
        reason.push_str("; stderr: ");
        reason.push_str(&excerpt);
    }
    reason
}

/// Lines of stderr kept at each end of an excerpt.
const EXCERPT_LINES: usize = 3;
/// Bytes kept of each excerpt line.
const EXCERPT_LINE_BYTES: usize = 240;

/// What explains a crash, from a process's stderr: its first lines (where
/// an exception's message is, e.g. Ruby's) and its last lines (where a
/// Python traceback ends), with the count of lines left out between.
pub fn stderr_excerpt(text: &str) -> String {
    let lines: Vec<&str> = text
        .trim_end()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let cut = |l: &&str| -> String {
        match l.char_indices().nth(EXCERPT_LINE_BYTES) {
            Some((i, _)) => format!("{}…", &l[..i]),
            None => l.to_string(),
        }
    };
    if lines.len() <= 2 * EXCERPT_LINES {
        return lines.iter().map(cut).collect::<Vec<_>>().join("\n");
    }
    let head: Vec<String> = lines[..EXCERPT_LINES].iter().map(cut).collect();
    let tail: Vec<String> = lines[lines.len() - EXCERPT_LINES..]
        .iter()
        .map(cut)
        .collect();
    format!(
        "{}\n… ({} lines) …\n{}",
        head.join("\n"),
        lines.len() - 2 * EXCERPT_LINES,
        tail.join("\n")
    )
}

async fn write_lines<W: AsyncWrite + Unpin>(writer: W, mut rx: mpsc::Receiver<String>) {
    let mut w = BufWriter::new(writer);
    while let Some(frame) = rx.recv().await {
        let mut next = Some(frame);
        // Coalesce frames already queued into one flush.
        while let Some(frame) = next {
            if w.write_all(frame.as_bytes()).await.is_err() || w.write_all(b"\n").await.is_err() {
                return;
            }
            next = rx.try_recv().ok();
        }
        if w.flush().await.is_err() {
            return;
        }
    }
    // All senders gone: close our end so the peer sees EOF.
    let _ = w.shutdown().await;
}

/// Split `reader` into lines and forward them to `tx` as [`Inbound`] items
/// until EOF (`Ok`), a read error, or `tx`'s receiver going away (`Ok`).
///
/// A line longer than `cap` is reported as soon as the cap is passed and the
/// rest of it is skipped in bounded chunks, so memory use never exceeds about
/// `cap` plus one read buffer, whatever the peer sends. A trailing "\r" is
/// stripped, empty lines are skipped, and a final line without "\n" is still
/// delivered.
pub async fn read_lines<R: AsyncRead + Unpin>(
    reader: R,
    tx: &mpsc::Sender<Inbound>,
    cap: usize,
) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(READ_CHUNK, reader);
    // Frame bytes plus an optional '\r' and the '\n'.
    let allowance = cap.saturating_add(2);
    let mut line = Vec::new();
    let mut in_flight = super::InFlight::default();
    loop {
        in_flight.wait(tx).await;
        line.clear();
        let first = allowance.min(BIG_FRAME);
        let mut limited = (&mut reader).take(first as u64);
        let read = tokio::select! {
            r = limited.read_until(b'\n', &mut line) => r,
            _ = tx.closed() => return Ok(()),
        };
        read?;
        let mut _big = None;
        if line.last() != Some(&b'\n') && line.len() == first && first < allowance {
            // A big frame: the run reads one at a time, so many flooding
            // sessions cannot each hold one half-read beside the budget.
            _big = tokio::select! {
                p = BIG_FRAMES.acquire() => p.ok(),
                _ = tx.closed() => return Ok(()),
            };
            let mut limited = (&mut reader).take((allowance - first) as u64);
            let read = tokio::select! {
                r = limited.read_until(b'\n', &mut line) => r,
                _ = tx.closed() => return Ok(()),
            };
            read?;
        }
        let complete = line.last() == Some(&b'\n');
        if !complete && line.len() >= allowance {
            // Over the cap with no end in sight: say so now, then skip.
            let fault = TransportFault::FrameTooLarge {
                limit: cap,
                seen: line.len(),
            };
            line = Vec::new();
            if tx.send(Inbound::Fault(fault)).await.is_err() {
                return Ok(());
            }
            match skip_line(&mut reader, tx).await? {
                true => continue,
                false => return Ok(()),
            }
        }
        // Here the line is complete, or the stream ended (possibly mid-line).
        if complete {
            line.pop();
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if !line.is_empty() {
            let item = if line.len() > cap {
                Inbound::Fault(TransportFault::FrameTooLarge {
                    limit: cap,
                    seen: line.len(),
                })
            } else {
                match String::from_utf8(std::mem::take(&mut line)) {
                    Ok(s) => Inbound::Frame(s),
                    Err(e) => Inbound::Fault(TransportFault::InvalidUtf8 {
                        len: e.as_bytes().len(),
                    }),
                }
            };
            in_flight.sent(&item);
            if tx.send(item).await.is_err() {
                return Ok(());
            }
        }
        if !complete {
            return Ok(());
        }
    }
}

/// Discard input up to and including the next '\n'. Returns false at EOF or
/// when nobody is listening any more.
async fn skip_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    tx: &mpsc::Sender<Inbound>,
) -> io::Result<bool> {
    let mut scratch = Vec::with_capacity(READ_CHUNK);
    loop {
        scratch.clear();
        // read_until via take() uses tokio's memchr and never holds more than a chunk.
        let mut limited = (&mut *reader).take(READ_CHUNK as u64);
        let n = tokio::select! {
            r = limited.read_until(b'\n', &mut scratch) => r?,
            _ = tx.closed() => return Ok(false),
        };
        if n == 0 {
            return Ok(false);
        }
        if scratch.last() == Some(&b'\n') {
            return Ok(true);
        }
    }
}

/// Harness stdin, read by a plain thread and handed over in chunks.
struct ThreadStdin {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl ThreadStdin {
    fn spawn() -> ThreadStdin {
        // Small depth: back-pressure reaches the thread, and through it the peer.
        let (tx, rx) = mpsc::channel(4);
        std::thread::Builder::new()
            .name("arcp-stdin".into())
            .spawn(move || {
                use std::io::Read;
                let mut stdin = std::io::stdin().lock();
                loop {
                    let mut buf = vec![0u8; READ_CHUNK];
                    let item = match stdin.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => {
                            buf.truncate(n);
                            Ok(buf)
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => Err(e),
                    };
                    let failed = item.is_err();
                    if tx.blocking_send(item).is_err() || failed {
                        return;
                    }
                }
            })
            .expect("spawn stdin thread");
        ThreadStdin {
            rx,
            chunk: Vec::new(),
            pos: 0,
        }
    }
}

impl AsyncRead for ThreadStdin {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pos == this.chunk.len() {
            match ready!(this.rx.poll_recv(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Err(e)) => return Poll::Ready(Err(e)),
                Some(Ok(chunk)) => {
                    this.chunk = chunk;
                    this.pos = 0;
                }
            }
        }
        let n = buf.remaining().min(this.chunk.len() - this.pos);
        buf.put_slice(&this.chunk[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::process::tests::{assert_group_gone, group_alive, SPAWN_LOCK};

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn a_crash_excerpt_keeps_the_exception_line_at_the_head_and_the_tail() {
        let mut ruby = String::from(
            "server.rb:45:in `validate!': envelope session_id must be a String (Arcp::Errors::InvalidRequest)\n",
        );
        for i in 0..20 {
            ruby.push_str(&format!("\tfrom lib/arcp/frame{i}.rb:{i}:in `run'\n"));
        }
        let e = stderr_excerpt(&ruby);
        assert!(e.starts_with("server.rb:45"), "{e}");
        assert!(e.contains("frame19.rb"), "{e}");
        assert!(e.contains("(15 lines)"), "{e}");
        assert!(!e.contains("frame10.rb"), "{e}");
        assert_eq!(stderr_excerpt("one\ntwo\n"), "one\ntwo");
        assert_eq!(stderr_excerpt(""), "");
    }

    fn opts(cap: usize) -> TransportOptions {
        TransportOptions {
            frame_cap: cap,
            connect_timeout: Duration::from_secs(2),
        }
    }

    async fn next(conn: &mut Conn) -> Inbound {
        conn.recv(T).await.expect("item before deadline")
    }

    fn frame(s: &str) -> Inbound {
        Inbound::Frame(s.into())
    }

    fn too_large(limit: usize, seen: usize) -> Inbound {
        Inbound::Fault(TransportFault::FrameTooLarge { limit, seen })
    }

    #[tokio::test]
    async fn line_splitting_rules() {
        let input: &'static [u8] =
            b"a\r\n\n\r\nb\n\xff\xfe\n12345\n123456\n1234\r\n12345\r\n123456\r\nlast";
        let mut c = from_io(input, tokio::io::sink(), 5, "test");
        assert_eq!(next(&mut c).await, frame("a"));
        assert_eq!(next(&mut c).await, frame("b"));
        assert_eq!(
            next(&mut c).await,
            Inbound::Fault(TransportFault::InvalidUtf8 { len: 2 })
        );
        assert_eq!(next(&mut c).await, frame("12345"));
        assert_eq!(next(&mut c).await, too_large(5, 6));
        assert_eq!(next(&mut c).await, frame("1234"));
        assert_eq!(next(&mut c).await, frame("12345"));
        // Over the cap with the newline beyond the read allowance: reported early.
        assert_eq!(next(&mut c).await, too_large(5, 7));
        assert_eq!(next(&mut c).await, frame("last"));
        assert_eq!(
            next(&mut c).await,
            Inbound::Closed("peer closed the stream".into())
        );
    }

    #[tokio::test]
    async fn endless_line_is_reported_without_buffering_it() {
        // An infinite line: only an implementation that gives up at the cap
        // can report it at all.
        let mut c = from_io(tokio::io::repeat(b'a'), tokio::io::sink(), 1024, "test");
        assert_eq!(next(&mut c).await, too_large(1024, 1026));
        assert!(matches!(
            c.recv(Duration::from_millis(50)).await,
            Err(TransportError::Timeout(_))
        ));
    }

    #[tokio::test]
    async fn writer_appends_newlines_and_closes() {
        let (ours, theirs) = tokio::io::duplex(1024);
        let (r, w) = tokio::io::split(ours);
        let c = from_io(r, w, 1024, "test");
        c.send("one".into()).await.unwrap();
        c.send("two".into()).await.unwrap();
        drop(c);
        let mut got = String::new();
        let mut theirs = theirs;
        tokio::time::timeout(T, theirs.read_to_string(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, "one\ntwo\n");
    }

    #[tokio::test]
    async fn round_trip_with_cat() {
        let _l = SPAWN_LOCK.read().await;
        let mut c = connect("cat", &opts(1024)).await.unwrap();
        assert_eq!(c.peer, "stdio: cat");
        for i in 0..3 {
            c.send(format!("{{\"n\":{i}}}")).await.unwrap();
        }
        for i in 0..3 {
            assert_eq!(next(&mut c).await, frame(&format!("{{\"n\":{i}}}")));
        }
    }

    #[tokio::test]
    async fn shutdown_closes_stdin_and_collects_the_status() {
        let _l = SPAWN_LOCK.read().await;
        let c = connect("cat", &opts(1024)).await.unwrap();
        c.send("bye".into()).await.unwrap();
        let status = c.shutdown(T).await.unwrap();
        assert_eq!(status.code(), Some(0));
        // A target that ignores EOF is killed once the grace period is over.
        let c = connect("exec sleep 1000", &opts(1024)).await.unwrap();
        let started = std::time::Instant::now();
        let status = c.shutdown(Duration::from_millis(200)).await.unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    /// Runs only as a child of `own_stdio_round_trip`: echoes frames over the
    /// test process's own stdin/stdout until told to quit.
    #[tokio::test]
    #[ignore = "helper process for own_stdio_round_trip"]
    async fn own_stdio_echo_helper() {
        if std::env::var_os("ARCP_STDIO_ECHO_HELPER").is_none() {
            return;
        }
        let mut c = own_stdio(1024);
        while let Ok(Inbound::Frame(f)) = c.recv(Duration::from_secs(10)).await {
            if f == "quit" {
                return;
            }
            c.send(format!("echo:{f}")).await.unwrap();
        }
    }

    #[tokio::test]
    async fn own_stdio_round_trip() {
        let _l = SPAWN_LOCK.read().await;
        let exe = std::env::current_exe().unwrap();
        let cmd = format!(
            "exec '{}' --exact transport::stdio::tests::own_stdio_echo_helper --ignored --nocapture",
            exe.display()
        );
        let spawn = SpawnOptions::default().env("ARCP_STDIO_ECHO_HELPER", "1");
        let mut c = connect_with(&cmd, &opts(1024), &spawn).await.unwrap();
        c.send("ping".into()).await.unwrap();
        // libtest's own chatter shares the child's stdout; skip it.
        loop {
            match next(&mut c).await {
                Inbound::Frame(f) if f == "echo:ping" => break,
                Inbound::Frame(_) => continue,
                other => panic!("unexpected {other:?}; stderr: {}", c.stderr_tail()),
            }
        }
        // The helper returns while its stdin is still open: the stdin thread
        // must not keep the process from exiting.
        c.send("quit".into()).await.unwrap();
        loop {
            match next(&mut c).await {
                Inbound::Frame(_) => continue,
                Inbound::Closed(reason) => {
                    assert!(reason.contains("exited with status 0"), "{reason}");
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn early_exit_reports_status_and_stderr() {
        let _l = SPAWN_LOCK.read().await;
        let mut c = connect("echo 'bad config' >&2; exit 3", &opts(1024))
            .await
            .unwrap();
        match c.recv(Duration::from_secs(2)).await.unwrap() {
            Inbound::Closed(reason) => {
                assert!(reason.contains("exited with status 3"), "{reason}");
                assert!(reason.contains("bad config"), "{reason}");
            }
            other => panic!("expected Closed, got {other:?}"),
        }
        assert!(c.is_closed());
        assert!(c.send("x".into()).await.is_err());
        assert!(c.stderr_tail().contains("bad config"));
    }

    #[tokio::test]
    async fn huge_line_is_skipped_and_the_next_frame_arrives() {
        let _l = SPAWN_LOCK.read().await;
        let cap = 1 << 20;
        let cmd = "head -c 100000000 /dev/zero | tr '\\0' a; echo; echo '{\"ok\":1}'";
        let mut c = connect(cmd, &opts(cap)).await.unwrap();
        assert_eq!(
            c.recv(Duration::from_secs(5)).await.unwrap(),
            too_large(cap, cap + 2)
        );
        assert_eq!(
            c.recv(Duration::from_secs(8)).await.unwrap(),
            frame("{\"ok\":1}")
        );
        assert!(matches!(next(&mut c).await, Inbound::Closed(_)));
    }

    #[tokio::test]
    async fn silent_target_times_out_and_dies_with_its_conn() {
        let _l = SPAWN_LOCK.read().await;
        for cmd in ["sleep 1000", "sleep 1000 & sleep 1000"] {
            let mut c = connect(cmd, &opts(1024)).await.unwrap();
            let r = c.recv(Duration::from_millis(100)).await;
            assert_eq!(r, Err(TransportError::Timeout(Duration::from_millis(100))));
            let pgid = c.process.as_ref().unwrap().pgid();
            assert!(group_alive(pgid));
            drop(c);
            assert_group_gone(pgid, Duration::from_secs(2)).await;
        }
    }
}
