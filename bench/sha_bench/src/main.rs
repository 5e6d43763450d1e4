//! SHA-256 against SHA-512 (sha2 0.10, as the server uses it) on this machine: each file size
//! from 4 KB to 10 MB is written once, then digested many times by both, interleaved, reading
//! the file in a stream through a fixed buffer (as the server's digest memo does). Prints the
//! median time per file and the throughput of each, and their ratio.
//!
//! Usage: cargo run --release -- [DIR]   (files are written to DIR, default the temp dir)

use sha2::{Digest, Sha256, Sha512};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The stream's buffer, as the server's.
const BUFFER: usize = 64 * 1024;

fn digest_file<D: Digest>(path: &Path, buffer: &mut [u8]) -> std::io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let mut hasher = D::new();
    loop {
        let read = file.read(buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().to_vec())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let mut buffer = vec![0u8; BUFFER];
    println!(
        "{:>10} {:>12} {:>12} {:>10} {:>10} {:>8}",
        "size", "sha256", "sha512", "MB/s 256", "MB/s 512", "512/256"
    );
    for size in [4 << 10, 64 << 10, 256 << 10, 1 << 20, 10 << 20] {
        let path = dir.join(format!("sha_bench_{size}"));
        let mut file = File::create(&path)?;
        let bytes: Vec<u8> = (0..size)
            .map(|i: usize| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        file.write_all(&bytes)?;
        drop(file);
        let rounds = (200 << 20) / size.max(1 << 16);
        let rounds = rounds.clamp(21, 2001);
        let (mut t256, mut t512) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            for which in [round % 2, 1 - round % 2] {
                let start = Instant::now();
                let digest = if which == 0 {
                    digest_file::<Sha256>(&path, &mut buffer)?
                } else {
                    digest_file::<Sha512>(&path, &mut buffer)?
                };
                let elapsed = start.elapsed();
                std::hint::black_box(digest);
                if which == 0 {
                    t256.push(elapsed)
                } else {
                    t512.push(elapsed)
                }
            }
        }
        std::fs::remove_file(&path)?;
        let (m256, m512) = (median(t256), median(t512));
        let rate = |time: Duration| size as f64 / time.as_secs_f64() / 1e6;
        println!(
            "{:>10} {:>10.1}us {:>10.1}us {:>10.0} {:>10.0} {:>8.2}",
            size,
            m256.as_secs_f64() * 1e6,
            m512.as_secs_f64() * 1e6,
            rate(m256),
            rate(m512),
            m512.as_secs_f64() / m256.as_secs_f64()
        );
    }
    Ok(())
}
