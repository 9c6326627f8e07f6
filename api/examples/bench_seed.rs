//! Seeds a data directory with N posts (with pictures' labels) for the API benchmark.
//!
//! `cargo run --release -p postagram-api --example bench_seed -- <data-dir> <posts>`
//! Writes through the same `SqliteStore` the server uses; every 10th post is labelled
//! `dog`, the others `cat`, so `?label=dog` selects a tenth of the feed.

use std::path::PathBuf;

use postagram_core::keys::object_key;
use postagram_core::sqlite::SqliteStore;
use postagram_core::store::{LabelOutcome, NewUser, PostStore};
use postagram_core::wire::NewPost;
use postagram_core::Label;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or_else(|| anyhow::anyhow!("usage: bench_seed <data-dir> <posts>"))?,
    );
    let n: usize = args.next().unwrap_or_else(|| "10000".into()).parse()?;
    let store = SqliteStore::open(&dir.join("postagram.db")).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Password: "benchmark" (hash made once with the API's own Argon2id parameters).
    let hash = {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        argon2::Argon2::default()
            .hash_password(b"benchmark", &salt)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .to_string()
    };
    for user in ["bench", "alice", "bob"] {
        let _ = store
            .create_user(NewUser {
                username: user.into(),
                password_hash: hash.clone(),
            })
            .await;
    }
    for i in 0..n {
        let user = ["alice", "bob"][i % 2];
        let post = store
            .create_post(
                user,
                NewPost {
                    title: format!("Post number {i}"),
                    body: format!("A body for post {i}, with some words to search."),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let key = object_key(user, post.id, "photo.jpg");
        store
            .set_image(post.id, &key, 1000)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let (fine, cat) = if i % 10 == 0 {
            ("beagle", "dog")
        } else {
            ("tabby", "cat")
        };
        let labels = vec![
            Label {
                name: "animal".into(),
                confidence: 97.0,
            },
            Label {
                name: cat.into(),
                confidence: 92.0,
            },
            Label {
                name: fine.into(),
                confidence: 61.0,
            },
        ];
        store
            .set_labels(post.id, &key, LabelOutcome::Labelled(labels))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    // The seeded jobs are not real pictures: mark them finished so workers stay idle.
    drop(store);
    let conn = rusqlite_free_jobs(&dir)?;
    println!(
        "seeded {n} posts into {} ({conn} jobs closed)",
        dir.display()
    );
    Ok(())
}

fn rusqlite_free_jobs(dir: &std::path::Path) -> anyhow::Result<usize> {
    let out = std::process::Command::new("sqlite3")
        .arg(dir.join("postagram.db"))
        .arg("UPDATE label_jobs SET state = 'done' WHERE state = 'pending'; SELECT changes();")
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "sqlite3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0))
}
