//! A private three-node Redis Cluster on free loopback ports, for the suites that must prove
//! their keys and scripts work when a schedule's keys live on one node among several.

use crate::private_servers::{free_port, wait_for_port};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NODES: usize = 3;

/// Three `redis-server --cluster-enabled yes` masters sharing the 16384 slots, nothing kept on
/// disk but their cluster config files in a temporary directory. Killed on drop.
pub struct PrivateRedisCluster {
    /// The client port of each node.
    pub ports: Vec<u16>,
    servers: Vec<Child>,
    dir: tempfile::TempDir,
}

impl PrivateRedisCluster {
    /// Starts the nodes, joins them with `redis-cli --cluster create` and waits until every
    /// node reports `cluster_state:ok`. `None`, after saying why, when `redis-server` or
    /// `redis-cli` is not installed, unless `GUAHAO_TEST_REQUIRE_SERVERS=1`, which makes that
    /// a failure. Needs Redis 7 or later (`--cluster-port`).
    pub fn start() -> Option<Self> {
        for tool in ["redis-server", "redis-cli"] {
            if let Err(e) = Command::new(tool).arg("--version").output() {
                crate::unavailable("Redis Cluster", &format!("{tool}: {e}"));
                return None;
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("guahao-redis-cluster-")
            .tempdir()
            .expect("temp dir");
        let mut cluster = Self {
            ports: Vec::with_capacity(NODES),
            servers: Vec::with_capacity(NODES),
            dir,
        };
        // Every node needs a client port and a cluster bus port, all distinct. The bus port is
        // given explicitly: the default, port + 10000, may be taken or beyond 65535 for a port
        // from the ephemeral range.
        let mut ports: Vec<u16> = Vec::with_capacity(2 * NODES);
        while ports.len() < 2 * NODES {
            let port = free_port();
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        for pair in ports.chunks_exact(2) {
            cluster.start_node(pair[0], pair[1]);
        }
        cluster.create();
        cluster.wait_until_ok();
        Some(cluster)
    }

    /// The seed list the stores take as their Redis URL: every node, comma-separated.
    pub fn url(&self) -> String {
        self.node_urls().join(",")
    }

    /// One `redis://` URL per node, for talking to a node directly.
    pub fn node_urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}"))
            .collect()
    }

    fn start_node(&mut self, port: u16, bus_port: u16) {
        let dir = self.dir.path();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-port", &bus_port.to_string()])
            .arg("--cluster-config-file")
            .arg(dir.join(format!("nodes-{port}.conf")))
            .arg("--dir")
            .arg(dir)
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server was found a moment ago");
        self.servers.push(child);
        self.ports.push(port);
        wait_for_port(port, true);
    }

    fn create(&self) {
        let nodes: Vec<String> = self
            .ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let output = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli was found a moment ago");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `--cluster create` returns once the nodes agree on the slots; each node turns its state
    /// to ok on its own a moment later.
    fn wait_until_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in &self.ports {
            loop {
                let info = Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "cluster", "info"])
                    .stdin(Stdio::null())
                    .output()
                    .expect("redis-cli cluster info");
                if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "node {port} did not reach cluster_state:ok within 30 s"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Drop for PrivateRedisCluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            let _ = server.kill();
            let _ = server.wait();
        }
    }
}
