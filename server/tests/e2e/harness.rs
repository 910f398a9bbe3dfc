//! Starts and stops real `lynxstore` processes for end-to-end tests.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Option<Child>,
    pub pg_port: u16,
    pub http_port: u16,
    pub data_dir: PathBuf,
    extra: Vec<String>,
    /// RLIMIT_FSIZE in KiB for the next start: writes beyond it fail with
    /// EFBIG (SIGXFSZ ignored), as writes on a full disk fail with ENOSPC.
    pub file_size_limit_kib: Option<u64>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Starts a server on `data_dir` with free ports and waits until it accepts.
    pub fn start(data_dir: &Path) -> Server {
        Self::start_with(data_dir, &[])
    }

    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Server {
        // A port found free can be taken by another test process before the
        // server binds it; a server that exits while starting is started
        // again on new ports (a real startup failure fails every attempt).
        for attempt in 1.. {
            let mut s = Server {
                child: None,
                pg_port: free_port(),
                http_port: free_port(),
                data_dir: data_dir.to_path_buf(),
                extra: extra.iter().map(|s| s.to_string()).collect(),
                file_size_limit_kib: None,
            };
            match s.try_spawn() {
                Ok(()) => return s,
                Err(status) if attempt >= 5 => {
                    panic!("lynxstore exited during startup (5 attempts): {status}")
                }
                Err(_) => continue,
            }
        }
        unreachable!("the loop returns or panics")
    }

    fn spawn(&mut self) {
        if let Err(status) = self.try_spawn() {
            panic!("lynxstore exited during startup: {status}");
        }
    }

    /// Starts the process and waits until it accepts; its exit status if it
    /// exits first.
    fn try_spawn(&mut self) -> Result<(), std::process::ExitStatus> {
        let mut command = match self.file_size_limit_kib {
            None => Command::new(env!("CARGO_BIN_EXE_lynxstore")),
            Some(kib) => {
                // An ignored signal stays ignored across exec.
                let mut c = Command::new("bash");
                c.arg("-c")
                    .arg("trap '' XFSZ; ulimit -f \"$0\"; exec \"$@\"")
                    .arg(kib.to_string())
                    .arg(env!("CARGO_BIN_EXE_lynxstore"));
                c
            }
        };
        let child = command
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--pg-addr")
            .arg(format!("127.0.0.1:{}", self.pg_port))
            .arg("--http-addr")
            .arg(format!("127.0.0.1:{}", self.http_port))
            .arg("--log")
            .arg("warn")
            .args(&self.extra)
            .stdin(Stdio::null())
            .spawn()
            .expect("start lynxstore");
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect(("127.0.0.1", self.pg_port)).is_ok()
                && TcpStream::connect(("127.0.0.1", self.http_port)).is_ok()
            {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(status);
            }
            assert!(
                Instant::now() < deadline,
                "lynxstore did not start listening within 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn conn_string(&self) -> String {
        format!("host=127.0.0.1 port={} user=lynx dbname=lynx", self.pg_port)
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.conn_string(), tokio_postgres::NoTls)
            .await
            .expect("connect to lynxstore");
        tokio::spawn(conn);
        client
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = c.id() as i32;
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
            let status = c.wait().unwrap();
            assert!(
                status.success(),
                "lynxstore exited with {status} after SIGTERM"
            );
        }
    }

    /// Restarts on the same data directory and ports.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub fn start_again(&mut self) {
        assert!(self.child.is_none());
        self.spawn();
    }

    pub fn psql(&self, args: &[&str]) -> std::process::Output {
        Command::new("psql")
            .env("PGCONNECT_TIMEOUT", "10")
            .env_remove("PGPASSWORD")
            .args([
                "-X",
                "-h",
                "127.0.0.1",
                "-p",
                &self.pg_port.to_string(),
                "-U",
                "lynx",
                "-d",
                "lynx",
            ])
            .args(args)
            .output()
            .expect("run psql (is postgresql-client installed?)")
    }

    /// Runs psql and returns stdout, failing on a non-zero exit.
    pub fn psql_ok(&self, args: &[&str]) -> String {
        let out = self.psql(args);
        assert!(
            out.status.success(),
            "psql {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
