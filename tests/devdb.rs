//! The dev database through its public API: start, use, stop, restart with the data kept.
//! Uses its own directory under the temp dir and a free port, so the system PostgreSQL
//! (127.0.0.1:5432) and a developer's `.boxoffice` are left alone.

use std::process::Command;

use boxoffice::devdb::DevDatabase;

mod server_binaries;

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn is_ready(url: &str) -> bool {
    let status = Command::new("pg_isready").args(["-d", url]).output().unwrap().status;
    status.success()
}

/// Runs `sql` with psql and returns its unaligned, tuples-only output.
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql").args([url, "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "psql -c {sql:?} failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn dev_database_starts_stops_and_keeps_its_data() {
    let root = std::env::temp_dir().join(format!("boxoffice-devdb-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("pgdata");
    let port = free_port();

    let mut db = match DevDatabase::start(&dir, port).await {
        Ok(db) => db,
        Err(e) if e.to_string().starts_with("no PostgreSQL server binaries") => {
            server_binaries::missing(&e);
            return;
        }
        Err(e) => panic!("start failed: {e:#}"),
    };
    let url = db.url();
    assert_eq!(url, format!("postgres://postgres@127.0.0.1:{port}/boxoffice"));
    assert!(is_ready(&url));
    assert_eq!(psql(&url, "select 1"), "1");
    psql(&url, "create table kept (id int); insert into kept values (42)");

    // A second start finds the running server and reuses it; stopping or dropping that
    // handle must leave the server to its owner.
    let mut reused = DevDatabase::start(&dir, port).await.expect("reuse");
    reused.stop().await.unwrap();
    drop(reused);
    assert!(is_ready(&url), "a reused server must not be stopped");

    // Asking for another port while it runs is an error, not a silent second server.
    let other = DevDatabase::start(&dir, free_port()).await;
    let message = format!("{:#}", other.err().expect("port mismatch must fail"));
    assert!(message.contains(&format!("with port {port}")), "{message}");

    db.stop().await.unwrap();
    db.stop().await.unwrap(); // idempotent
    assert!(!is_ready(&url), "stop must stop the server");

    let mut db = DevDatabase::start(&dir, port).await.expect("restart");
    assert_eq!(psql(&db.url(), "select id from kept"), "42");
    db.stop().await.unwrap();
    assert!(!is_ready(&url));

    // Drop stops a server we started, for paths that never reach stop().
    let db = DevDatabase::start(&dir, port).await.expect("restart");
    assert!(is_ready(&url));
    drop(db);
    assert!(!is_ready(&url), "drop must stop the server");

    std::fs::remove_dir_all(&root).unwrap();
}
