//! The restore of one large output (a 16 MB rlib-sized file), timed two ways on one file
//! system, interleaved: as a whole-blob entry (read the entry, check its CRC, decode, write the
//! target: how every entry was restored before content files, and how Redis and S3 entries
//! still are) and through the disk cache's content file (the lookup reads the small entry and
//! checks the content file by its stamp, the restore clones or kernel-copies it).
//!
//! Run by `bench/restore.sh`: `cargo run --release -p sccache-actors --example restore_bench
//! [DIR] [ROUNDS]`, DIR being where the cache and the targets go (default: a temp dir under
//! /tmp). Prints the medians and lower quartiles, in milliseconds.

use actix::prelude::*;
use sccache_actors::outputs::{restore, OutputFile};
use sccache_actors::stats::Record;
use sccache_actors::storage::disk::DiskStorage;
use sccache_actors::storage::{Lookup, LookupResult, Store};
use sccache_core::entry::{CacheEntry, EntryFile};
use sccache_core::hash_key::CacheKey;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Takes the stats a backend reports and forgets them.
struct Sink;

impl Actor for Sink {
    type Context = Context<Self>;
}

impl Handler<Record> for Sink {
    type Result = ();

    fn handle(&mut self, _: Record, _: &mut Context<Self>) {}
}

const SIZE: usize = 16 << 20;

fn entry() -> CacheEntry {
    // Not all one byte: a file system that compresses or dedups must not make it free.
    let data: Vec<u8> = (0..SIZE as u64)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    CacheEntry {
        files: vec![EntryFile::inline("libbig.rlib", Some(0o644), data)],
        stdout: Vec::new(),
        stderr: Vec::new(),
        exit_code: 0,
    }
}

fn targets(dir: &Path) -> Vec<OutputFile> {
    vec![OutputFile {
        name: "libbig.rlib".into(),
        path: dir.join("libbig.rlib"),
    }]
}

fn summary(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:34} median {:7.2} ms, lower quartile {:7.2} ms",
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() / 4])
    );
}

#[actix_rt::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base = args.next().map(PathBuf::from);
    let rounds: usize = args.next().map_or(Ok(20), |n| n.parse())?;
    let work = match &base {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let sink = Sink.start();
    let cache_dir = work.path().join("cache");
    let storage = DiskStorage::new(cache_dir, 1 << 40, 16, sink.recipient()).start();
    let key = CacheKey([0x5a; 32]);
    let stored = entry();
    storage.do_send(Store {
        key,
        entry: stored.clone(),
    });
    let blob_path = work.path().join("whole-blob-entry");
    std::fs::write(&blob_path, stored.encode(&key)?)?;
    // Let the write land, and the content file settle so the digest memo may keep it.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let out = work.path().join("target");
    std::fs::create_dir(&out)?;

    let (mut whole, mut content) = (Vec::new(), Vec::new());
    for round in 0..rounds + 1 {
        for way in [round % 2, (round + 1) % 2] {
            let _ = std::fs::remove_file(out.join("libbig.rlib"));
            let started = Instant::now();
            if way == 0 {
                let bytes = std::fs::read(&blob_path)?;
                let found = CacheEntry::decode(&bytes, &key)?;
                restore(found.files, targets(&out), 0o022).await?;
                if round > 0 {
                    whole.push(started.elapsed());
                }
            } else {
                let LookupResult::Hit(found) = storage.send(Lookup { key }).await? else {
                    return Err("the stored entry was not found".into());
                };
                restore(found.files, targets(&out), 0o022).await?;
                if round > 0 {
                    content.push(started.elapsed());
                }
            }
            if std::fs::metadata(out.join("libbig.rlib"))?.len() != SIZE as u64 {
                return Err("a restore wrote the wrong length".into());
            }
        }
    }
    let fs_type = rustix::fs::statfs(work.path()).map(|stat| stat.f_type as u32)?;
    println!(
        "{} MB output, {rounds} rounds, file system type {fs_type:#x}",
        SIZE >> 20
    );
    summary("whole-blob entry (read, CRC, write)", whole);
    summary("content file (lookup, clone/copy)", content);
    Ok(())
}
