//! Uses every dependency, so that the benchmark builds the whole graph.

use serde::{Deserialize, Serialize};

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
