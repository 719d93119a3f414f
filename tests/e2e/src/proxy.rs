//! A TCP proxy on loopback in front of PostgreSQL, which a test controls to make the database
//! misbehave for a service that reaches it through the proxy:
//!
//! - [`PostgresProxy::freeze`]: every byte held in both directions and new connections left
//!   waiting (a hung server or a network partition: nothing fails, everything waits);
//! - [`PostgresProxy::cut`]: every open connection closed and the port closed, so new
//!   connections are refused (PostgreSQL restarting: sessions end, their transactions are
//!   rolled back, nothing answers until it is back); [`PostgresProxy::restore`] listens again on
//!   the same port.
//!
//! Used by `tests/e2e` and, through `#[path]`, by `crates/server/tests/health.rs` (it needs
//! nothing but tokio and url).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Forwarding.
    Open,
    /// Holding every byte and every new connection.
    Frozen,
    /// Not listening; every connection was closed.
    Down,
}

#[derive(Debug, Clone, Copy)]
struct State {
    mode: Mode,
    /// Cuts so far: a connection opened before a cut dies with it, even if the proxy is
    /// restored before the connection's tasks notice.
    cuts: u64,
}

/// A controllable TCP proxy to PostgreSQL on `127.0.0.1` (see the module documentation).
pub struct PostgresProxy {
    addr: SocketAddr,
    state: watch::Sender<State>,
    accepted: Arc<AtomicU64>,
    open: Arc<AtomicU64>,
    acceptor: tokio::task::JoinHandle<()>,
}

impl PostgresProxy {
    /// Starts forwarding connections from a free loopback port to `upstream`.
    pub async fn start(upstream: SocketAddr) -> PostgresProxy {
        let listener = listen("127.0.0.1:0".parse().expect("address")).expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (state, _) = watch::channel(State {
            mode: Mode::Open,
            cuts: 0,
        });
        let accepted = Arc::new(AtomicU64::new(0));
        let open = Arc::new(AtomicU64::new(0));
        let acceptor = tokio::spawn(accept_loop(
            listener,
            addr,
            upstream,
            state.subscribe(),
            accepted.clone(),
            open.clone(),
        ));
        PostgresProxy {
            addr,
            state,
            accepted,
            open,
            acceptor,
        }
    }

    /// The proxy's address (what the service's database URL names).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Freezes (`true`) or thaws (`false`) the proxy: while frozen nothing is forwarded in either
    /// direction and new connections wait, as if the server had stopped answering.
    pub fn freeze(&self, frozen: bool) {
        self.state.send_modify(|s| {
            if s.mode != Mode::Down {
                s.mode = if frozen { Mode::Frozen } else { Mode::Open };
            }
        });
    }

    /// Takes the database away as a restart does: every open connection is closed and new ones
    /// are refused until [`PostgresProxy::restore`].
    pub fn cut(&self) {
        self.state.send_modify(|s| {
            s.mode = Mode::Down;
            s.cuts += 1;
        });
    }

    /// Listens and forwards again, on the same port, after [`PostgresProxy::cut`].
    pub fn restore(&self) {
        self.state.send_modify(|s| s.mode = Mode::Open);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Connections forwarded right now.
    pub fn open_connections(&self) -> u64 {
        self.open.load(Ordering::SeqCst)
    }
}

impl Drop for PostgresProxy {
    fn drop(&mut self) {
        // The connections' tasks end when the state's sender goes away.
        self.acceptor.abort();
    }
}

/// A listener on `addr` with `SO_REUSEADDR`, so the port can be taken again after a cut while
/// the connections it closed linger in TIME_WAIT.
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut state: watch::Receiver<State>,
    accepted: Arc<AtomicU64>,
    open: Arc<AtomicU64>,
) {
    let mut listener = Some(listener);
    loop {
        let Some(current) = listener.as_ref() else {
            // Down: wait to be restored, then listen again on the same port.
            if state.wait_for(|s| s.mode != Mode::Down).await.is_err() {
                return;
            }
            listener = Some(listen(addr).expect("listen again on the proxy's port"));
            continue;
        };
        let event = tokio::select! {
            client = current.accept() => Some(client),
            down = state.wait_for(|s| s.mode == Mode::Down) => {
                if down.is_err() {
                    return;
                }
                None
            }
        };
        match event {
            Some(Ok((client, _))) => {
                accepted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(forward(client, upstream, state.clone(), open.clone()));
            }
            Some(Err(_)) => {}
            // Closing the listener: connections are refused from now on.
            None => listener = None,
        }
    }
}

/// Forwards one connection until either side closes it or the proxy is cut.
async fn forward(
    client: TcpStream,
    upstream: SocketAddr,
    mut state: watch::Receiver<State>,
    open: Arc<AtomicU64>,
) {
    let born = state.borrow().cuts;
    if !passable(&mut state, born).await {
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    open.fetch_add(1, Ordering::SeqCst);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pump(client_read, server_write, state.clone(), born),
        pump(server_read, client_write, state, born),
    );
    open.fetch_sub(1, Ordering::SeqCst);
}

/// Waits while the proxy is frozen; false once the connection is to be closed (the proxy was
/// cut since the connection was opened, or dropped).
async fn passable(state: &mut watch::Receiver<State>, born: u64) -> bool {
    match state
        .wait_for(|s| s.cuts != born || s.mode != Mode::Frozen)
        .await
    {
        Ok(s) => s.cuts == born && s.mode == Mode::Open,
        Err(_) => false,
    }
}

/// Resolves once the connection is to be closed (see [`passable`]).
async fn closed(state: &mut watch::Receiver<State>, born: u64) {
    let _ = state
        .wait_for(|s| s.cuts != born || s.mode == Mode::Down)
        .await;
}

/// Copies bytes one way, holding each chunk while the proxy is frozen; returns (dropping both
/// halves) at end of stream or when the proxy is cut.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut state: watch::Receiver<State>,
    born: u64,
) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            () = closed(&mut state, born) => return,
        };
        if !passable(&mut state, born).await {
            return;
        }
        tokio::select! {
            written = to.write_all(&buffer[..n]) => if written.is_err() {
                return;
            },
            () = closed(&mut state, born) => return,
        }
    }
}

/// The PostgreSQL server of `database_url`, as a socket address (`localhost` read as
/// `127.0.0.1`).
pub fn postgres_addr(database_url: &str) -> SocketAddr {
    let url = url::Url::parse(database_url).expect("a database URL");
    let host = match url.host_str().unwrap_or("127.0.0.1") {
        "localhost" => "127.0.0.1",
        host => host,
    };
    format!("{host}:{}", url.port().unwrap_or(5432))
        .parse()
        .expect("the database URL names a numeric host")
}

/// `database_url` pointed at `addr` (a proxy) and at database `name`.
pub fn database_url_via(database_url: &str, addr: SocketAddr, name: &str) -> String {
    let mut url = url::Url::parse(database_url).expect("a database URL");
    url.set_host(Some(&addr.ip().to_string())).expect("host");
    url.set_port(Some(addr.port())).expect("port");
    url.set_path(&format!("/{name}"));
    url.to_string()
}
