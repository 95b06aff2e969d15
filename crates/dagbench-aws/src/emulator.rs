//! The tests' own AWS emulator: a moto server (PyPI `moto[server]`, pinned
//! in `requirements-test.txt` and installed into `.venv` by `make test`) on
//! 127.0.0.1 and a free port, started once per test process and stopped
//! when that process ends (a watchdog shell follows the test process).
//! A fake only where no real AWS can be reached: this machine has no
//! network but the package registries.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    pub endpoint: String,
}

/// Where `moto_server` is: `DAGBENCH_MOTO_SERVER`, else the project's `.venv`.
pub fn moto_server_path() -> PathBuf {
    std::env::var_os("DAGBENCH_MOTO_SERVER").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server"),
        PathBuf::from,
    )
}

/// The shared server, started on first use. `None` (with a note) when moto
/// is not installed outside CI; under CI a missing moto is a failure.
pub fn moto() -> Option<&'static Moto> {
    static MOTO: OnceLock<Option<Moto>> = OnceLock::new();
    MOTO.get_or_init(|| {
        let path = moto_server_path();
        if !path.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} is missing: `make venv` installs moto",
                path.display()
            );
            eprintln!(
                "skipped: {} is missing (`make venv` installs moto)",
                path.display()
            );
            return None;
        }
        Some(start(&path))
    })
    .as_ref()
}

fn start(path: &std::path::Path) -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on loopback")
        .port();
    let script = format!(
        "{} -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
         while kill -0 {} 2>/dev/null; do sleep 0.5; done; kill $m",
        shell_quote(&path.display().to_string()),
        std::process::id()
    );
    // Detached on purpose: the watchdog ends with this process.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh starts moto_server");
    let endpoint = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while !ready(port) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "moto_server did not answer on {endpoint} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto { endpoint }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Whether `GET /moto-api/` answers 200.
fn ready(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// A name unique within this test process (moto's state is shared).
pub fn unique(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}
