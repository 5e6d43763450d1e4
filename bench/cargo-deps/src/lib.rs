//! Uses every dependency, so that the benchmark builds the whole graph.

use itertools::Itertools;
use serde::{Deserialize, Serialize};

/// Why a summary failed (thiserror's derive, a second proc-macro).
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("no numbers in the text")]
    NoNumbers,
}

/// The distinct words of `text`, sorted and joined (itertools).
pub fn words(text: &str) -> String {
    text.split_whitespace().sorted().dedup().join(" ")
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub count: u64,
}

/// Finds the numbers in `text`, formats them back, and counts the newlines.
pub fn summarise(text: &str) -> anyhow::Result<String> {
    let numbers = regex::Regex::new(r"\d+")?;
    let mut buffer = itoa::Buffer::new();
    let total: u64 = numbers
        .find_iter(text)
        .filter_map(|m| m.as_str().parse::<u64>().ok())
        .sum();
    let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count() as u64;
    log::debug!("{lines} lines");
    let record = Record {
        name: buffer.format(total).to_owned(),
        count: lines,
    };
    Ok(serde_json::to_string(&record)?)
}
