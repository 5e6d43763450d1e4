//! Renders a `StatsReport` the way `sccache --show-stats` does: text with sccache's labels and
//! layout, or JSON with sccache's field names.
//!
//! The text layout is a label column padded to a common width, then values right-aligned in a
//! value column; a suffix such as ` %` or ` s` hangs past the value column, as sccache prints
//! it. This module only formats; it does not talk to the server or decide any figure.

use sccache_core::size::format_size;
use sccache_core::stats::{LevelStats, PerLanguageCount, Stats, StatsReport};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The narrowest label column, so a report looks like sccache's even when labels are short.
const MIN_LABEL_WIDTH: usize = 31;
/// The narrowest value column.
const MIN_VALUE_WIDTH: usize = 8;
/// Durations under this are printed with microsecond precision, so a fast cache write does
/// not read `0.000 s`.
const FINE_DURATION_BELOW: Duration = Duration::from_millis(10);

/// How `--show-stats` prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum StatsFormat {
    #[default]
    Text,
    Json,
}

/// The report in the requested format, ending with a newline. `advanced` counts by language
/// and compiler (`c [gcc]`), as `--show-adv-stats` does, instead of by language group.
pub fn render(report: &StatsReport, format: StatsFormat, advanced: bool) -> anyhow::Result<String> {
    match format {
        StatsFormat::Text => Ok(render_text(report, advanced)),
        StatsFormat::Json => Ok(format!("{}\n", serde_json::to_string(report)?)),
    }
}

/// One line of the table: a label, a value aligned in the value column, and an optional suffix
/// printed after the value column (` %`, ` s`, ` MiB`).
struct Row {
    label: String,
    value: String,
    suffix: String,
}

impl Row {
    fn count(label: impl Into<String>, value: u64) -> Row {
        Row {
            label: label.into(),
            value: value.to_string(),
            suffix: String::new(),
        }
    }

    fn with_suffix(label: impl Into<String>, (value, suffix): (String, String)) -> Row {
        Row {
            label: label.into(),
            value,
            suffix,
        }
    }
}

/// The report as sccache's text table: the counters, the non-cacheable reasons, then what the
/// server says of its cache, in sccache's order and with its labels.
pub fn render_text(report: &StatsReport, advanced: bool) -> String {
    let stats = &report.stats;
    let rows = counter_rows(stats, advanced);
    let mut reasons: Vec<(&String, &u64)> = stats.not_cached.iter().collect();
    // Most frequent reason first, as sccache lists them; ties in name order for stable output.
    reasons.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let size_rows = size_rows(report);

    let label_width = rows
        .iter()
        .chain(&size_rows)
        .map(|row| row.label.chars().count())
        .chain(reasons.iter().map(|(reason, _)| reason.chars().count()))
        .chain([MIN_LABEL_WIDTH])
        .max()
        .unwrap_or(MIN_LABEL_WIDTH);
    let value_width = rows
        .iter()
        .chain(&size_rows)
        .map(|row| row.value.chars().count())
        .chain(reasons.iter().map(|(_, count)| count.to_string().len()))
        .chain([MIN_VALUE_WIDTH])
        .max()
        .unwrap_or(MIN_VALUE_WIDTH);

    let mut text = String::new();
    let push_row = |text: &mut String, row: &Row| {
        let _ = writeln!(
            text,
            "{:<label_width$} {:>value_width$}{}",
            row.label, row.value, row.suffix
        );
    };
    let push_text = |text: &mut String, label: &str, value: &str| {
        let _ = writeln!(text, "{label:<label_width$} {value}");
    };
    for row in &rows {
        push_row(&mut text, row);
    }
    if !reasons.is_empty() {
        text.push_str("\nNon-cacheable reasons:\n");
        for (reason, count) in reasons {
            push_row(&mut text, &Row::count(reason.clone(), *count));
        }
        text.push('\n');
    }
    push_text(&mut text, "Cache location", &report.cache_location);
    for level in stats.multi_level.iter().flatten() {
        push_text(&mut text, &format!("  {}", level.name), &level.location);
    }
    if let (true, Some(mode)) = (advanced, report.effective_cache_mode) {
        push_text(&mut text, "Effective cache mode", &format!("{mode:?}"));
    }
    let basedirs = if report.basedirs.is_empty() {
        "(none)".to_owned()
    } else {
        report.basedirs.join(", ")
    };
    push_text(&mut text, "Base directories", &basedirs);
    if report.cache_location.starts_with("Local disk") {
        let direct = if report.use_preprocessor_cache_mode {
            "yes"
        } else {
            "no"
        };
        push_text(&mut text, "Use direct/preprocessor mode?", direct);
    }
    push_text(&mut text, "Version (client)", &report.version);
    if let (None, Some(note)) = (report.cache_size, &report.size_note) {
        push_text(&mut text, "Cache size", note);
    }
    for row in &size_rows {
        push_row(&mut text, row);
    }
    text
}

/// A counter per language: by language group (`C/C++`), or with `advanced` by language and
/// compiler (`c [gcc]`).
fn per_language(counts: &PerLanguageCount, advanced: bool) -> &BTreeMap<String, u64> {
    if advanced {
        &counts.adv_counts
    } else {
        &counts.counts
    }
}

/// The total of a counter, then one row per language.
fn language_rows(rows: &mut Vec<Row>, label: &str, counts: &PerLanguageCount, advanced: bool) {
    rows.push(Row::count(label, counts.all()));
    for (language, count) in per_language(counts, advanced) {
        rows.push(Row::count(format!("{label} ({language})"), *count));
    }
}

fn counter_rows(stats: &Stats, advanced: bool) -> Vec<Row> {
    let mut rows = vec![
        Row::count("Compile requests", stats.compile_requests),
        Row::count("Compile requests executed", stats.requests_executed),
    ];
    language_rows(&mut rows, "Cache hits", &stats.cache_hits, advanced);
    language_rows(&mut rows, "Cache misses", &stats.cache_misses, advanced);
    rows.push(Row::with_suffix(
        "Cache hits rate",
        hit_rate(stats.cache_hits.all(), stats.cache_misses.all()),
    ));
    let hits = per_language(&stats.cache_hits, advanced);
    let misses = per_language(&stats.cache_misses, advanced);
    let mut languages: Vec<&String> = hits.keys().chain(misses.keys()).collect();
    languages.sort();
    languages.dedup();
    for language in languages {
        let count = |counts: &BTreeMap<String, u64>| counts.get(language).copied().unwrap_or(0);
        rows.push(Row::with_suffix(
            format!("Cache hits rate ({language})"),
            hit_rate(count(hits), count(misses)),
        ));
    }
    rows.extend([
        Row::count("Cache timeouts", stats.cache_timeouts),
        Row::count("Cache read errors", stats.cache_read_errors),
        Row::count("Forced recaches", stats.forced_recaches),
        Row::count("Cache write errors", stats.cache_write_errors),
        Row::count("Cache writes", stats.cache_writes),
        Row::count("Cache writes dropped", stats.cache_writes_dropped),
        Row::count("Inputs changed during compile", stats.inputs_changed),
        Row::count("Cache writes skipped", stats.cache_writes_skipped),
        Row::count("Direct misses not stored", stats.depend_not_stored),
        Row::count("Corrupt cache entries", stats.corrupt_entries),
    ]);
    language_rows(&mut rows, "Cache errors", &stats.cache_errors, advanced);
    rows.extend([
        Row::count("Direct mode hits (C/C++/Rust)", stats.direct_hits),
        Row::count("Direct mode misses (C/C++/Rust)", stats.direct_misses),
    ]);
    // Rust hits and misses by crate type (`bin`, `proc-macro`, `build-script`...).
    for (label, counts) in [
        ("Rust hits", &stats.rust_crate_hits),
        ("Rust misses", &stats.rust_crate_misses),
    ] {
        rows.extend(
            counts
                .iter()
                .map(|(kind, count)| Row::count(format!("{label} ({kind})"), *count)),
        );
    }
    rows.extend([
        Row::count("Compilations", stats.compilations),
        Row::count("Compilation failures", stats.compile_fails),
        Row::count("Cache hits of failed compiles", stats.failure_hits),
        Row::count(
            "Non-cacheable compilations",
            stats.non_cacheable_compilations,
        ),
        Row::count("Non-cacheable calls", stats.requests_not_cacheable),
        Row::count("Non-compilation calls", stats.requests_not_compile),
        Row::count(
            "Unsupported compiler calls",
            stats.requests_unsupported_compiler,
        ),
    ]);
    // Why compiles took the preprocessor path without a direct lookup or record.
    rows.extend(
        stats
            .not_direct
            .iter()
            .map(|(reason, count)| Row::count(format!("Not direct ({reason})"), *count)),
    );
    rows.extend([
        Row::with_suffix("Average cache write", seconds(stats.average_write())),
        Row::with_suffix("Average compiler", seconds(stats.average_compile())),
        Row::with_suffix("Average cache read hit", seconds(stats.average_read_hit())),
        Row::count("Failed distributed compilations", stats.dist_errors),
    ]);
    if let Some(levels) = &stats.multi_level {
        level_rows(&mut rows, levels);
    }
    rows
}

/// A chain's figures per level, fastest first, under sccache's labels (its order: hits,
/// misses, rate, writes, failures, write-backs, times) with ours after them.
fn level_rows(rows: &mut Vec<Row>, levels: &[LevelStats]) {
    rows.push(Row::count("Multi-level cache levels", levels.len() as u64));
    for level in levels {
        let name = &level.name;
        rows.extend([
            Row::count(format!("  {name} hits"), level.hits),
            Row::count(format!("  {name} misses"), level.misses),
            Row::with_suffix(
                format!("  {name} hit rate"),
                hit_rate(level.hits, level.misses),
            ),
            Row::count(format!("  {name} writes"), level.writes),
            Row::count(format!("  {name} write failures"), level.write_failures),
            Row::count(format!("  {name} backfills from"), level.backfills_from),
            Row::count(format!("  {name} backfills to"), level.backfills_to),
            Row::with_suffix(
                format!("  {name} avg cache write"),
                seconds(level.average_write()),
            ),
            Row::with_suffix(
                format!("  {name} avg cache read hit"),
                seconds(level.average_read_hit()),
            ),
            Row::with_suffix(
                format!("  {name} avg cache read"),
                seconds(level.average_read()),
            ),
            Row::count(format!("  {name} read errors"), level.errors),
            Row::count(format!("  {name} corrupt entries"), level.corrupt),
            Row::count(format!("  {name} writes skipped"), level.writes_skipped),
            Row::count(format!("  {name} writes dropped"), level.writes_dropped),
        ]);
    }
}

fn size_rows(report: &StatsReport) -> Vec<Row> {
    let mut rows = Vec::new();
    if let Some(size) = report.cache_size {
        rows.push(Row::with_suffix("Cache size", size_parts(size)));
    }
    if let Some(max) = report.max_cache_size {
        rows.push(Row::with_suffix("Max cache size", size_parts(max)));
    }
    rows
}

/// A hit rate as sccache prints it: `50.00` with a ` %` suffix, or `-` when nothing was looked up.
fn hit_rate(hits: u64, misses: u64) -> (String, String) {
    let total = hits.saturating_add(misses);
    if total == 0 {
        return ("-".to_owned(), String::new());
    }
    let rate = hits as f64 * 100.0 / total as f64;
    (format!("{rate:.2}"), " %".to_owned())
}

/// A duration in seconds, with six decimals under 10 ms so small figures stay visible.
fn seconds(duration: Duration) -> (String, String) {
    let value = if duration.is_zero() || duration >= FINE_DURATION_BELOW {
        format!("{:.3}", duration.as_secs_f64())
    } else {
        format!("{:.6}", duration.as_secs_f64())
    };
    (value, " s".to_owned())
}

/// Splits `format_size`'s text into the number (aligned) and the unit (hanging), dropping a
/// trailing `.0` as sccache shows whole sizes (`10 GiB`).
fn size_parts(bytes: u64) -> (String, String) {
    let text = format_size(bytes);
    match text.split_once(' ') {
        Some((number, unit)) => {
            let number = number.strip_suffix(".0").unwrap_or(number);
            (number.to_owned(), format!(" {unit}"))
        }
        None => (text, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sccache_core::compiler::{CompilerKind, Language};
    use sccache_core::stats::{CacheMode, Event};

    fn sample() -> StatsReport {
        let mut stats = Stats::default();
        for _ in 0..3 {
            stats.apply(Event::CompileRequest);
        }
        stats.apply(Event::Hit {
            label: CompilerKind::Gcc.stats_label(Some(Language::C)),
            read: Duration::from_micros(150),
        });
        stats.apply(Event::Miss {
            label: CompilerKind::Rustc.stats_label(None),
        });
        stats.apply(Event::Compiled {
            duration: Duration::from_millis(120),
            success: true,
        });
        stats.apply(Event::WriteFinished {
            duration: Duration::from_micros(300),
        });
        stats.apply(Event::NotCacheable("-E".into()));
        stats.apply(Event::NotCacheable("multiple input files".into()));
        stats.apply(Event::NotCacheable("multiple input files".into()));
        StatsReport {
            stats,
            cache_location: "Local disk: \"/root/.cache/sccache\"".into(),
            cache_size: Some(1_258_291),
            max_cache_size: Some(10 << 30),
            size_note: None,
            version: "0.1.0".into(),
            ..StatsReport::default()
        }
    }

    /// The line whose label column holds exactly `label`.
    fn line<'a>(text: &'a str, label: &str) -> &'a str {
        text.lines()
            .find(|line| line.get(..MIN_LABEL_WIDTH).map(str::trim_end) == Some(label))
            .unwrap_or_else(|| panic!("no line {label:?} in\n{text}"))
    }

    #[test]
    fn every_label_is_present() {
        let text = render_text(&sample(), false);
        for label in [
            "Compile requests",
            "Compile requests executed",
            "Cache hits",
            "Cache hits (C/C++)",
            "Cache misses",
            "Cache misses (Rust)",
            "Cache hits rate",
            "Cache hits rate (C/C++)",
            "Cache hits rate (Rust)",
            "Cache timeouts",
            "Cache read errors",
            "Forced recaches",
            "Cache write errors",
            "Cache writes",
            "Cache writes dropped",
            "Cache writes skipped",
            "Corrupt cache entries",
            "Compilations",
            "Compilation failures",
            "Cache hits of failed compiles",
            "Non-cacheable compilations",
            "Non-cacheable calls",
            "Non-compilation calls",
            "Unsupported compiler calls",
            "Average cache write",
            "Average compiler",
            "Average cache read hit",
            "Failed distributed compilations",
            "Cache errors",
            "Cache location",
            "Base directories",
            "Use direct/preprocessor mode?",
            "Version (client)",
            "Cache size",
            "Max cache size",
            "Non-cacheable reasons:",
        ] {
            assert!(
                text.lines().any(|line| line.starts_with(label)),
                "missing {label:?} in\n{text}"
            );
        }
    }

    #[test]
    fn values_line_up_in_sccaches_columns() {
        let text = render_text(&sample(), false);
        assert_eq!(
            line(&text, "Compile requests"),
            "Compile requests                       3"
        );
        assert_eq!(
            line(&text, "Cache hits rate"),
            "Cache hits rate                    50.00 %"
        );
        assert_eq!(
            line(&text, "Average compiler"),
            "Average compiler                   0.120 s"
        );
        assert_eq!(
            line(&text, "Max cache size"),
            "Max cache size                        10 GiB"
        );
        assert_eq!(
            line(&text, "Cache size"),
            "Cache size                           1.2 MiB"
        );
        assert_eq!(
            line(&text, "Cache location"),
            "Cache location                  Local disk: \"/root/.cache/sccache\""
        );
    }

    #[test]
    fn rust_hits_and_misses_show_by_crate_type() {
        let mut report = StatsReport::default();
        report.stats.rust_crate_hits.insert("bin".into(), 3);
        report
            .stats
            .rust_crate_misses
            .insert("proc-macro".into(), 1);
        let text = render_text(&report, false);
        assert!(line(&text, "Rust hits (bin)").ends_with(" 3"), "{text}");
        assert!(
            line(&text, "Rust misses (proc-macro)").ends_with(" 1"),
            "{text}"
        );
        let json = render(&report, StatsFormat::Json, false).unwrap_or_default();
        assert!(json.contains("\"rust_crate_hits\":{\"bin\":3}"), "{json}");
    }

    #[test]
    fn fast_durations_keep_their_precision() {
        let text = render_text(&sample(), false);
        assert!(
            line(&text, "Average cache write").ends_with("0.000300 s"),
            "{text}"
        );
        assert!(
            line(&text, "Average cache read hit").ends_with("0.000150 s"),
            "{text}"
        );
    }

    #[test]
    fn hit_rate_is_a_dash_without_lookups() {
        let text = render_text(&StatsReport::default(), false);
        assert!(line(&text, "Cache hits rate").ends_with(" -"), "{text}");
        assert!(!text.contains("Non-cacheable reasons"));
    }

    #[test]
    fn reasons_are_listed_most_frequent_first() {
        let text = render_text(&sample(), false);
        let reasons: Vec<&str> = text
            .split("Non-cacheable reasons:\n")
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|line| !line.is_empty())
            .collect();
        // sccache's order: the reasons, a blank line, then what the server says of its cache.
        assert!(text.contains("-E                                     1\n\nCache location"));
        assert_eq!(
            reasons,
            [
                "multiple input files                   2",
                "-E                                     1"
            ]
        );
    }

    #[test]
    fn size_note_stands_in_for_an_unknown_size() {
        let report = StatsReport {
            size_note: Some("unknown (CONFIG refused)".into()),
            ..StatsReport::default()
        };
        let text = render_text(&report, false);
        assert!(text.contains("Cache size                      unknown (CONFIG refused)"));
        assert!(!text.contains("Max cache size"));
    }

    #[test]
    fn json_uses_sccaches_field_names() {
        let json = render(&sample(), StatsFormat::Json, false).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["stats"]["compile_requests"], 3);
        assert_eq!(value["stats"]["cache_hits"]["counts"]["C/C++"], 1);
        assert_eq!(value["stats"]["cache_hits"]["adv_counts"]["c [gcc]"], 1);
        assert_eq!(value["max_cache_size"], 10u64 << 30);
        // Every field of sccache's `ServerInfo` (and its stats) is there for its readers.
        for field in [
            "use_preprocessor_cache_mode",
            "basedirs",
            "effective_cache_mode",
        ] {
            assert!(value.get(field).is_some(), "{field} missing in {json}");
        }
        for field in ["dist_compiles", "dist_errors", "multi_level"] {
            assert!(
                value["stats"].get(field).is_some(),
                "{field} missing in {json}"
            );
        }
    }

    #[test]
    fn a_chains_levels_are_shown_and_read_by_sccaches_schema() {
        let mut report = sample();
        report.stats.multi_level = Some(vec![
            LevelStats {
                name: "L0 (disk)".into(),
                location: "Local disk: \"/c\"".into(),
                hits: 2,
                misses: 1,
                hit_duration: Duration::from_millis(4),
                ..LevelStats::default()
            },
            LevelStats {
                name: "L1 (redis)".into(),
                location: "Redis: redis://127.0.0.1:6379".into(),
                hits: 1,
                writes: 1,
                write_duration: Duration::from_millis(3),
                ..LevelStats::default()
            },
        ]);
        let json = render(&report, StatsFormat::Json, false).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        // sccache 0.19's `LevelStats`: every field it requires, durations as serde writes them.
        let levels = value["stats"]["multi_level"].as_array().unwrap();
        assert_eq!(levels.len(), 2);
        for level in levels {
            for text in ["name", "location"] {
                assert!(level[text].is_string(), "{text} in {level}");
            }
            for count in [
                "hits",
                "misses",
                "writes",
                "write_failures",
                "backfills_from",
                "backfills_to",
            ] {
                assert!(level[count].is_u64(), "{count} in {level}");
            }
            for duration in ["hit_duration", "write_duration"] {
                assert!(level[duration]["secs"].is_u64(), "{duration} in {level}");
                assert!(level[duration]["nanos"].is_u64(), "{duration} in {level}");
            }
        }
        assert_eq!(
            (&levels[0]["hits"], &levels[1]["writes"]),
            (&2.into(), &1.into())
        );
        let text = render_text(&report, false);
        assert!(
            line(&text, "Multi-level cache levels").ends_with(" 2"),
            "{text}"
        );
        assert!(line(&text, "  L0 (disk) hits").ends_with(" 2"), "{text}");
        assert!(
            line(&text, "  L0 (disk) avg cache read hit").ends_with("0.002000 s"),
            "{text}"
        );
        assert!(
            line(&text, "  L1 (redis) avg cache write").ends_with("0.003000 s"),
            "{text}"
        );
        assert!(
            line(&text, "  L1 (redis)").ends_with("redis://127.0.0.1:6379"),
            "{text}"
        );
    }

    #[test]
    fn advanced_stats_count_by_language_and_compiler() {
        let mut report = sample();
        report.effective_cache_mode = Some(CacheMode::ReadWrite);
        let text = render_text(&report, true);
        for label in [
            "Cache hits (c [gcc])",
            "Cache misses (rust)",
            "Cache hits rate (c [gcc])",
            "Cache hits rate (rust)",
            "Effective cache mode",
        ] {
            assert!(
                text.lines().any(|line| line.starts_with(label)),
                "missing {label:?} in\n{text}"
            );
        }
        // Counts by language group give way to counts by language and compiler.
        assert!(
            !text.contains("Cache hits (C/C++)") && !text.contains("Cache misses (C/C++)"),
            "{text}"
        );
        assert!(line(&text, "Effective cache mode").ends_with("ReadWrite"));
        // Plain stats leave the cache mode out, as sccache's do.
        assert!(!render_text(&report, false).contains("Effective cache mode"));
    }
}
