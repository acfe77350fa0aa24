//! Postgres part: a fresh, uniquely named database per test.
//!
//! With `DATABASE_URL` set (CI: `postgres://postgres@127.0.0.1:5432/postgres`), the new
//! database is created on that server. Otherwise a private throwaway cluster is started
//! once per test process from the `initdb` and `postgres` binaries on the machine (on
//! `PATH` or under `/usr/lib/postgresql/*/bin`), with its data and socket in a temporary
//! directory and a free port; as root it runs as the `postgres` (or `nobody`) user, since
//! Postgres refuses to run as root. It is stopped when the test process exits. With
//! neither, [`fresh_database`] fails, naming what is missing: tests never pass by
//! skipping.
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use sqlx::{Connection, Executor};

/// The URL of a new, empty database named `probity_test_<uuid>`.
pub async fn fresh_database() -> anyhow::Result<String> {
    let server = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => private_cluster_url()?,
    };
    fresh_database_on(&server).await
}

/// The URL of a new, empty database named `probity_test_<uuid>` on the server of
/// `server` (any database URL of it, e.g. [`PrivatePostgres::url`]).
pub async fn fresh_database_on(server: &str) -> anyhow::Result<String> {
    let server = server.to_string();
    let name = format!(
        "{TEST_DB_PREFIX}{}_{}",
        unix_now(),
        uuid::Uuid::new_v4().simple()
    );
    let mut conn = sqlx::PgConnection::connect(&server)
        .await
        .with_context(|| {
            format!(
                "cannot connect to the Postgres server at {}",
                redact(&server)
            )
        })?;
    SWEPT
        .get_or_init(|| async {
            if let Err(error) = sweep_stale_databases(&mut conn).await {
                eprintln!("testkit: could not drop stale test databases: {error:#}");
            }
        })
        .await;
    conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .with_context(|| format!("cannot create database {name}"))?;
    conn.close().await.ok();
    with_database(&server, &name)
}

/// Names of the databases this kit creates: the prefix, the creation time (Unix
/// seconds), a uuid.
const TEST_DB_PREFIX: &str = "probity_test_";

/// A test database older than this belongs to a finished run and is dropped.
const STALE_AFTER_SECS: u64 = 3 * 3600;

/// Set once the stale databases of earlier runs have been dropped in this process.
static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Drops this kit's databases created more than [`STALE_AFTER_SECS`] ago (and those of
/// the older naming without a time), so repeated runs do not fill the server. Younger
/// ones may belong to a run still going on and are left alone.
async fn sweep_stale_databases(conn: &mut sqlx::PgConnection) -> anyhow::Result<()> {
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'probity\\_test\\_%'")
            .fetch_all(&mut *conn)
            .await?;
    let cutoff = unix_now().saturating_sub(STALE_AFTER_SECS);
    for (name,) in names {
        let created = name
            .strip_prefix(TEST_DB_PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .and_then(|(secs, _)| secs.parse::<u64>().ok())
            .unwrap_or(0);
        if created < cutoff {
            conn.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                .await
                .with_context(|| format!("dropping {name}"))?;
        }
    }
    Ok(())
}

/// `url` with its database (path) replaced by `name`, query parameters kept.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base
        .find("://")
        .ok_or_else(|| anyhow!("DATABASE_URL is not a URL: {}", redact(url)))?
        + 3;
    let authority_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..authority_end], name);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

/// Hides a password in a URL for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The private cluster, started on first use.
struct Cluster {
    url: String,
    child: Mutex<Option<Child>>,
    dir: PathBuf,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

fn private_cluster_url() -> anyhow::Result<String> {
    match CLUSTER.get_or_init(|| start_cluster().map_err(|e| format!("{e:#}"))) {
        Ok(cluster) => Ok(cluster.url.clone()),
        Err(message) => bail!(
            "no Postgres for tests: DATABASE_URL is not set and a private cluster could not be started: {message}"
        ),
    }
}

/// Stops the private cluster when the test process exits.
extern "C" fn stop_cluster() {
    if let Some(Ok(cluster)) = CLUSTER.get() {
        if let Ok(mut child) = cluster.child.lock() {
            if let Some(mut child) = child.take() {
                // SIGINT: Postgres' "fast" shutdown; SIGKILL if it takes too long.
                let interrupted = match i32::try_from(child.id()) {
                    // SAFETY: signals our own child process by its pid.
                    Ok(pid) => unsafe { kill(pid, SIGINT) == 0 },
                    Err(_) => false,
                };
                let deadline = Instant::now() + Duration::from_secs(5);
                while interrupted && Instant::now() < deadline {
                    if let Ok(Some(_)) = child.try_wait() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&cluster.dir);
    }
}

const SIGINT: i32 = 2;

extern "C" {
    fn atexit(callback: extern "C" fn()) -> i32;
    fn geteuid() -> u32;
    fn kill(pid: i32, signal: i32) -> i32;
}

fn find_binary(name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin").join(name))
        .filter(|p| p.is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// An unprivileged account to run Postgres as: name, uid, gid.
#[derive(Clone, Copy)]
struct RunAs<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
}

fn account(name: &str) -> Option<RunAs<'_>> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id")
            .arg(flag)
            .arg(name)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some(RunAs {
        name,
        uid: id("-u")?,
        gid: id("-g")?,
    })
}

/// How to run a Postgres binary: directly, or as an unprivileged user when we are root
/// (the child switches user between fork and exec, with no supplementary groups).
///
/// Under libfaketime (CI's runs with a moved clock) the child does not inherit the
/// wrapper's `FAKETIME_SHARED`: that semaphore belongs to root, and a process of another
/// user that cannot open it tries to make its own under its process id and exits ("sem_open
/// failed and recreation attempts failed: Permission denied") when a leftover file of that
/// name exists. Without it, Postgres makes its own or, if it cannot, runs without one;
/// with a fixed offset (`faketime -f +190d`) the shared segment is not needed. Leftovers
/// of dead processes are removed first all the same ([`clear_stale_faketime_files`]), so
/// they do not pile up for the `faketime` wrapper's own start to trip on.
fn command(binary: &Path, as_user: Option<RunAs<'_>>) -> Command {
    let mut cmd = Command::new(binary);
    if let Some(user) = as_user {
        use std::os::unix::process::CommandExt;
        clear_stale_faketime_files(Path::new("/dev/shm"));
        cmd.env_remove("FAKETIME_SHARED")
            .uid(user.uid)
            .gid(user.gid);
    }
    cmd
}

/// libfaketime names the semaphore and segment a process makes after its process id
/// (`/dev/shm/sem.faketime_sem_<pid>`, `/dev/shm/faketime_shm_<pid>`) and leaves them
/// behind when the process does not exit normally (a killed Postgres, a drill's
/// SIGKILL). A later process given the same id then cannot make its own: the `faketime`
/// wrapper refuses to start ("sem_open: File exists"). This removes the leftovers of
/// processes that no longer exist; a live process's files are kept.
fn clear_stale_faketime_files(shm: &Path) {
    let Ok(entries) = std::fs::read_dir(shm) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = faketime_file_pid(&name.to_string_lossy()) else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The process id in the name of a file libfaketime keeps in `/dev/shm`, if it is one.
fn faketime_file_pid(name: &str) -> Option<u32> {
    let digits = name
        .strip_prefix("sem.faketime_sem_")
        .or_else(|| name.strip_prefix("faketime_shm_"))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The binaries, data directory and account of a freshly initialised cluster.
struct Initialised {
    postgres: PathBuf,
    dir: PathBuf,
    data: PathBuf,
    user: Option<(u32, u32)>,
}

/// Runs `initdb` into a new temporary directory (owned by the unprivileged account when
/// we are root).
fn initialise(prefix: &str) -> anyhow::Result<Initialised> {
    let initdb = find_binary("initdb")
        .ok_or_else(|| anyhow!("`initdb` not found on PATH nor under /usr/lib/postgresql/*/bin"))?;
    let postgres = find_binary("postgres").ok_or_else(|| {
        anyhow!("`postgres` not found on PATH nor under /usr/lib/postgresql/*/bin")
    })?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { geteuid() } == 0;
    let user = if root {
        let user = ["postgres", "nobody"].into_iter().find_map(account).ok_or_else(|| {
            anyhow!("running as root and neither a `postgres` nor a `nobody` user exists to run Postgres as")
        })?;
        Some(user)
    } else {
        None
    };

    let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
    let data = dir.join("data");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if let Some(user) = user {
        let status = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", user.uid, user.gid))
            .arg(&dir)
            .status()
            .context("cannot run chown")?;
        if !status.success() {
            bail!("cannot give {} to user {}", dir.display(), user.name);
        }
    }

    let output = command(&initdb, user)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ])
        .output()
        .with_context(|| format!("cannot run {}", initdb.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed: {}",
            initdb.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let log = dir.join("postgres.log");
    std::fs::File::create(&log).context("cannot create the cluster log")?;
    if let Some(user) = user {
        let _ = Command::new("chown")
            .arg(format!("{}:{}", user.uid, user.gid))
            .arg(&log)
            .status();
    }
    Ok(Initialised {
        postgres,
        dir,
        data,
        user: user.map(|u| (u.uid, u.gid)),
    })
}

impl Initialised {
    /// Starts `postgres` on the cluster, listening on 127.0.0.1:`port` (its log appended
    /// to `postgres.log` in the cluster directory).
    fn spawn(&self, port: u16) -> anyhow::Result<Child> {
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("postgres.log"))
            .context("cannot open the cluster log")?;
        let user = self.user.map(|(uid, gid)| RunAs {
            name: "postgres",
            uid,
            gid,
        });
        command(&self.postgres, user)
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
            .arg(&self.dir)
            .args([
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
                "-c",
                "full_page_writes=off",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", self.postgres.display()))
    }

    /// The log of the cluster so far (for error messages).
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }
}

fn start_cluster() -> anyhow::Result<Cluster> {
    let init = initialise("probity-pg")?;
    let port = free_port()?;
    let child = init.spawn(port)?;
    let postgres = init.postgres.clone();
    let dir = init.dir.clone();
    let cluster = Cluster {
        url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        child: Mutex::new(Some(child)),
        dir: dir.clone(),
    };

    // Wait until it accepts TCP connections.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        let exited = cluster
            .child
            .lock()
            .map_err(|_| anyhow!("cluster lock poisoned"))?
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        if let Some(status) = exited {
            bail!(
                "{} exited with {status}: {}",
                postgres.display(),
                init.log().trim()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not accept connections on port {port} within 30 s",
                postgres.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // The server may accept TCP before it accepts logins; fresh_database's connect is
    // retried by waiting for a real session here.
    let deadline = Instant::now() + Duration::from_secs(30);
    let psql_ready = || -> bool {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        match rt {
            Ok(rt) => {
                rt.block_on(async { sqlx::PgConnection::connect(&cluster.url).await.is_ok() })
            }
            Err(_) => false,
        }
    };
    while !std::thread::scope(|s| s.spawn(psql_ready).join().unwrap_or(false)) {
        if Instant::now() > deadline {
            bail!(
                "{} accepts TCP but no logins on port {port}",
                postgres.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // SAFETY: registering a plain extern "C" function without arguments.
    unsafe {
        atexit(stop_cluster);
    }
    Ok(cluster)
}

/// A private Postgres server for fault drills: its own cluster directory and free port,
/// never the shared server. [`PrivatePostgres::stop`] shuts it down the way an operator's
/// restart does ("fast" shutdown: SIGINT, open sessions are terminated with `57P01`),
/// [`PrivatePostgres::start`] brings it back on the same port and data; dropping it kills
/// it and removes its directory.
pub struct PrivatePostgres {
    init: Initialised,
    port: u16,
    child: Option<Child>,
}

impl PrivatePostgres {
    /// Initialises a cluster, starts it and waits until it accepts logins.
    pub async fn launch() -> anyhow::Result<Self> {
        let init = tokio::task::spawn_blocking(|| initialise("probity-private-pg"))
            .await
            .context("initdb task")??;
        let mut pg = Self {
            init,
            port: free_port()?,
            child: None,
        };
        pg.start().await?;
        Ok(pg)
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres` (see [`fresh_database_on`]).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Shuts the server down ("fast": SIGINT; SIGKILL after 30 s) and reaps it. A no-op
    /// when it is not running.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // SAFETY: signals our own child process by its pid.
        let interrupted =
            i32::try_from(child.id()).is_ok_and(|pid| unsafe { kill(pid, SIGINT) == 0 });
        let deadline = Instant::now() + Duration::from_secs(30);
        while interrupted && Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        Ok(())
    }

    /// Starts the server (on the same port and data) and waits until it accepts logins.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        self.child = Some(self.init.spawn(self.port)?);
        let url = self.url();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if sqlx::PgConnection::connect(&url).await.is_ok() {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                bail!("postgres exited with {status}: {}", self.init.log().trim());
            }
            if Instant::now() > deadline {
                bail!(
                    "postgres did not accept logins on port {} within 60 s",
                    self.port
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.init.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_replaces_the_database_of_a_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x").unwrap(),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1/db?sslmode=disable", "x").unwrap(),
            "postgres://u:p@h:1/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h", "x").unwrap(),
            "postgres://h/x"
        );
    }

    #[test]
    fn it_hides_passwords_in_messages() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn it_reads_the_process_id_of_libfaketime_files_only() {
        assert_eq!(faketime_file_pid("sem.faketime_sem_3945"), Some(3945));
        assert_eq!(faketime_file_pid("faketime_shm_12"), Some(12));
        assert_eq!(faketime_file_pid("faketime_shm_"), None);
        assert_eq!(faketime_file_pid("sem.faketime_sem_12x"), None);
        assert_eq!(faketime_file_pid("PostgreSQL.3595248716"), None);
    }

    #[test]
    fn it_removes_the_faketime_files_of_dead_processes_and_keeps_the_rest() {
        let dir =
            std::env::temp_dir().join(format!("probity-shm-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        // A process that has exited and been reaped: its id names no live process.
        let mut child = Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let live = std::process::id();
        let files = [
            format!("sem.faketime_sem_{dead}"),
            format!("faketime_shm_{dead}"),
            format!("sem.faketime_sem_{live}"),
            format!("faketime_shm_{live}"),
            "PostgreSQL.1234".to_string(),
        ];
        for file in &files {
            std::fs::write(dir.join(file), b"x").unwrap();
        }

        clear_stale_faketime_files(&dir);

        let left: std::collections::BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let expected: std::collections::BTreeSet<String> = files[2..].iter().cloned().collect();
        assert_eq!(left, expected);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
