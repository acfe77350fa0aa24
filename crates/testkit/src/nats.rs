//! NATS for tests: the URL of a JetStream-enabled server, unique subject prefixes, and
//! private throwaway servers for fault drills.
//!
//! [`nats_url`] returns `NATS_URL` when set; otherwise it starts one private
//! `nats-server -js` per test process (on a free port, with a temporary store dir) and
//! returns its URL. With neither, it fails saying what is missing: tests never pass by
//! skipping. Servers are started from a dedicated thread that lives as long as the
//! process, with `PR_SET_PDEATHSIG`, so none outlives the test binary.
//!
//! [`PrivateNats`] is a server of its own for one test (its own port and store dir) that
//! can be killed and restarted on the same port and store, to drill a NATS outage.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};

/// How long a started server gets to accept JetStream requests.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// `NATS_URL` if set, else the URL of this process's private JetStream server (started
/// on first use).
pub async fn nats_url() -> anyhow::Result<String> {
    if let Ok(url) = std::env::var("NATS_URL") {
        if !url.trim().is_empty() {
            static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
            SWEPT
                .get_or_init(|| async {
                    if let Err(error) = sweep_stale_streams(&url).await {
                        eprintln!("testkit: could not delete stale test streams: {error:#}");
                    }
                })
                .await;
            return Ok(url);
        }
    }
    static SHARED: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    SHARED
        .get_or_try_init(|| async {
            let root = shared_store_root()?;
            let port = free_port()?;
            let child = spawn_server(port, &root)?;
            wait_ready(port, child).await.map(|child| {
                // Kept for the life of the process; PR_SET_PDEATHSIG ends the server with it.
                std::mem::forget(child);
                url_for(port)
            })
        })
        .await
        .cloned()
        .context("no NATS_URL set, and starting a private nats-server failed")
}

/// A test stream older than this belongs to a finished run and is deleted.
const STALE_AFTER_SECS: i64 = 3 * 3600;

/// Whether `name` is a stream of a [`unique_prefix`]: `T<32 hex digits>_EVENTS` or
/// `_WORK`.
fn is_test_stream(name: &str) -> bool {
    name.strip_suffix("_EVENTS")
        .or_else(|| name.strip_suffix("_WORK"))
        .and_then(|p| p.strip_prefix('T'))
        .is_some_and(|hex| hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Deletes the streams of earlier test runs on a shared server (created more than
/// [`STALE_AFTER_SECS`] ago), so repeated runs do not fill it; younger ones may belong
/// to a run still going on.
async fn sweep_stale_streams(url: &str) -> anyhow::Result<()> {
    use futures::StreamExt;
    let client = async_nats::connect(url).await?;
    let js = async_nats::jetstream::new(client);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let mut stale = Vec::new();
    let mut streams = js.streams();
    while let Some(info) = streams.next().await {
        let info = info?;
        if is_test_stream(&info.config.name)
            && info.created.unix_timestamp() < now - STALE_AFTER_SECS
        {
            stale.push(info.config.name.clone());
        }
    }
    for name in stale {
        js.delete_stream(&name).await?;
    }
    Ok(())
}

/// A subject / stream prefix unique to one test: `t<uuid without dashes>`.
pub fn unique_prefix() -> String {
    format!("t{}", uuid::Uuid::new_v4().simple())
}

/// A private JetStream server for fault drills: its own free port and store dir.
/// `stop` kills it (SIGKILL, like a crash), `restart` brings it back on the same port
/// with the same store; dropping it kills it and removes the store.
pub struct PrivateNats {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateNats {
    /// Starts a server and waits until it answers JetStream requests.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("probity-private-nats-")
            .tempdir()
            .context("creating the private NATS store dir")?;
        let mut nats = Self {
            port: free_port()?,
            dir,
            child: None,
        };
        nats.launch().await?;
        Ok(nats)
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        url_for(self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store dir (kept across restarts).
    pub fn store_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server (SIGKILL) and reaps it. A no-op when it is not running.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server if running and starts it again on the same port and store dir.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.launch().await
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        // The port may take a moment to be free again after a kill: retry a few times.
        let mut last_err = None;
        for _ in 0..5 {
            let child = spawn_server(self.port, self.dir.path())?;
            match wait_ready(self.port, child).await {
                Ok(child) => {
                    self.child = Some(child);
                    return Ok(());
                }
                Err(e) => {
                    last_err = Some(e);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow!("nats-server did not start")))
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
    }
}

fn url_for(port: u16) -> String {
    format!("nats://127.0.0.1:{port}")
}

/// A port nobody listens on right now.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// `NATS_SERVER_BIN`, else `nats-server` on `PATH` or in the usual sbin dirs.
fn server_binary() -> anyhow::Result<PathBuf> {
    if let Ok(bin) = std::env::var("NATS_SERVER_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!(
                "NATS_URL is not set and no `nats-server` binary was found (PATH, /usr/sbin, /usr/local/sbin); \
                 install nats-server or set NATS_URL to a JetStream-enabled server"
            )
        })
}

/// The store root of this process's shared server; removes those of dead processes.
fn shared_store_root() -> anyhow::Result<PathBuf> {
    let tmp = std::env::temp_dir();
    let prefix = "probity-testkit-nats-";
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix(prefix) {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    }
    let root = tmp.join(format!("{prefix}{}", std::process::id()));
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    Ok(root)
}

/// A spawn request for the spawner thread.
type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns `command` from a thread that lives as long as the process: `PR_SET_PDEATHSIG`
/// fires when the *thread* that forked the child ends, and test threads end early.
fn spawn_from_process_thread(command: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("testkit-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("spawning the testkit spawner thread");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .lock()
        .map_err(|_| std::io::Error::other("spawner lock poisoned"))?
        .send((command, reply_tx))
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?
}

fn spawn_server(port: u16, root: &Path) -> anyhow::Result<Child> {
    let bin = server_binary()?;
    let mut command = Command::new(&bin);
    command
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(root.join("store"))
        .arg("-l")
        .arg(root.join("nats.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    spawn_from_process_thread(command).with_context(|| format!("starting {}", bin.display()))
}

/// Waits until the server on `port` answers a JetStream account request; kills it on
/// failure.
async fn wait_ready(port: u16, mut child: Child) -> anyhow::Result<Child> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let url = url_for(port);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("nats-server on port {port} exited at start: {status}");
        }
        if jetstream_answers(&url).await {
            return Ok(child);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("nats-server on port {port} was not ready within {READY_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn jetstream_answers(url: &str) -> bool {
    let attempt = async {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_millis(500))
            .connect(url)
            .await
            .ok()?;
        // Any reply (rather than "no responders") means JetStream is up.
        client.request("$JS.API.INFO", "".into()).await.ok()
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Some(_))
    )
}

/// A private 3-node (or `n`-node) JetStream cluster on loopback for fault drills: each
/// node its own client port, cluster port and store dir, routes to all the others.
/// `kill(i)` kills node `i` (SIGKILL), `restart(i)` brings it back on its ports and
/// store; dropping the cluster kills every node and removes the stores.
pub struct NatsCluster {
    name: String,
    nodes: Vec<ClusterNode>,
}

struct ClusterNode {
    port: u16,
    cluster_port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl NatsCluster {
    /// Starts `n` nodes and waits until JetStream has a meta leader (a replicated stream
    /// can be created).
    pub async fn start(n: usize) -> anyhow::Result<Self> {
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            nodes.push(ClusterNode {
                port: free_port()?,
                cluster_port: free_port()?,
                dir: tempfile::Builder::new()
                    .prefix("probity-nats-cluster-")
                    .tempdir()
                    .context("creating a cluster node's store dir")?,
                child: None,
            });
        }
        let mut cluster = Self {
            name: format!("c{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
            nodes,
        };
        for i in 0..n {
            cluster.launch(i)?;
        }
        cluster.wait_jetstream().await?;
        Ok(cluster)
    }

    /// Every node's client URL, comma-separated (a `NATS_URL` seed list).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| url_for(n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The client URL of node `i`.
    pub fn url(&self, i: usize) -> String {
        url_for(self.nodes[i].port)
    }

    /// Kills node `i` (SIGKILL) and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `i` again on its ports and store and waits until it answers.
    pub async fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        self.kill(i);
        let mut last = None;
        for _ in 0..5 {
            self.launch(i)?;
            let child = self.nodes[i].child.take().expect("just launched");
            match wait_ready(self.nodes[i].port, child).await {
                Ok(child) => {
                    self.nodes[i].child = Some(child);
                    return Ok(());
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("cluster node {i} did not restart")))
    }

    fn launch(&mut self, i: usize) -> anyhow::Result<()> {
        let bin = server_binary()?;
        let routes = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, n)| format!("nats-route://127.0.0.1:{}", n.cluster_port))
            .collect::<Vec<_>>()
            .join(",");
        let node = &self.nodes[i];
        let mut command = Command::new(&bin);
        command
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &node.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(node.dir.path().join("store"))
            .arg("--server_name")
            .arg(format!("{}-n{i}", self.name))
            .arg("--cluster_name")
            .arg(&self.name)
            .arg("--cluster")
            .arg(format!("nats://127.0.0.1:{}", node.cluster_port))
            .arg("--routes")
            .arg(routes)
            .arg("-l")
            .arg(node.dir.path().join("nats.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
            unsafe {
                command.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = spawn_from_process_thread(command)
            .with_context(|| format!("starting {}", bin.display()))?;
        self.nodes[i].child = Some(child);
        Ok(())
    }

    /// Waits until a node answers `$JS.API.INFO` without an error (a meta leader exists).
    async fn wait_jetstream(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for (i, node) in self.nodes.iter_mut().enumerate() {
                if let Some(child) = node.child.as_mut() {
                    if let Some(status) = child.try_wait()? {
                        bail!("cluster node {i} exited at start: {status}");
                    }
                }
            }
            let url = self.url(0);
            let ready = async {
                let client = async_nats::ConnectOptions::new()
                    .connection_timeout(Duration::from_millis(500))
                    .connect(url.as_str())
                    .await
                    .ok()?;
                let reply = client.request("$JS.API.INFO", "".into()).await.ok()?;
                let info: serde_json::Value = serde_json::from_slice(&reply.payload).ok()?;
                info.get("error").is_none().then_some(())
            };
            if matches!(
                tokio::time::timeout(Duration::from_secs(2), ready).await,
                Ok(Some(()))
            ) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("the NATS cluster elected no JetStream meta leader within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

#[cfg(test)]
mod sweep_tests {
    #[test]
    fn only_streams_of_unique_prefixes_count_as_test_streams() {
        let name = format!("{}_EVENTS", super::unique_prefix().to_uppercase());
        assert!(super::is_test_stream(&name), "{name}");
        assert!(super::is_test_stream(&name.replace("_EVENTS", "_WORK")));
        assert!(!super::is_test_stream("PROBITY_EVENTS"));
        assert!(!super::is_test_stream("TABC_EVENTS"));
    }
}
