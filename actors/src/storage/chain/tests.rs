//! Tests of the chain over two real disk levels (temporary directories): the order of lookups,
//! write-backs after a slower level's hit, stores to every writable level, read-only levels
//! left alone, and which failed writes count for the cache under each write-error policy.

use super::*;
use crate::storage::disk::DiskStorage;
use crate::storage::test_support::{entry, Collector, Events};
use std::path::Path;
use std::time::Duration;

struct Harness {
    chain: Addr<Chain>,
    levels: Vec<Addr<DiskStorage>>,
    collector: Addr<Collector>,
}

/// Level settings: its directory, whether it is read-only, and whether its failures count.
struct LevelSetup<'a> {
    dir: &'a Path,
    read_only: bool,
    counts_failures: bool,
}

fn start(setups: &[LevelSetup]) -> Harness {
    let collector = Collector::default().start();
    let first_writable = setups.iter().position(|setup| !setup.read_only);
    let mut levels = Vec::new();
    let mut disks = Vec::new();
    for (index, setup) in setups.iter().enumerate() {
        let counter = LevelCounter::new(
            index,
            first_writable == Some(index),
            setup.counts_failures,
            collector.clone().recipient(),
        )
        .start();
        let disk = DiskStorage::new(
            setup.dir.to_path_buf(),
            1 << 30,
            16,
            counter.clone().recipient(),
        )
        .read_only(setup.read_only)
        .start();
        levels.push(Level {
            name: level_name(index, "disk"),
            storage: StorageHandle::of(&disk).read_only(setup.read_only),
            write_back: counter.recipient(),
        });
        disks.push(disk);
    }
    let chain = Chain::new(levels, collector.clone().recipient()).start();
    Harness {
        chain,
        levels: disks,
        collector,
    }
}

fn key(number: u8) -> CacheKey {
    CacheKey([number; 32])
}

async fn collected(harness: &Harness) -> Vec<Event> {
    harness.collector.send(Events).await.unwrap()
}

/// Polls the collected events every 10 ms for up to five seconds until `ready` holds.
async fn events_when(harness: &Harness, ready: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    for _ in 0..500 {
        let events = collected(harness).await;
        if ready(&events) {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("events never got there: {:#?}", collected(harness).await);
}

fn level_events(events: &[Event], level: usize) -> Vec<LevelEvent> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Level {
                level: index,
                event,
            } if *index == level => Some(event.clone()),
            _ => None,
        })
        .collect()
}

fn finished_writes(events: &[LevelEvent]) -> usize {
    events
        .iter()
        .filter(|event| matches!(event, LevelEvent::WriteFinished { .. }))
        .count()
}

fn cache_wide(events: &[Event]) -> Vec<&Event> {
    events
        .iter()
        .filter(|event| !matches!(event, Event::Level { .. } | Event::Levels(_)))
        .collect()
}

async fn look_up_directly(disk: &Addr<DiskStorage>, key: CacheKey) -> LookupResult {
    disk.send(Lookup { key }).await.unwrap()
}

#[actix_rt::test]
async fn a_slower_levels_hit_is_written_back_and_the_next_hit_is_the_faster_levels() {
    let fast = tempfile::tempdir().unwrap();
    let slow = tempfile::tempdir().unwrap();
    let harness = start(&[
        LevelSetup {
            dir: fast.path(),
            read_only: false,
            counts_failures: true,
        },
        LevelSetup {
            dir: slow.path(),
            read_only: false,
            counts_failures: false,
        },
    ]);
    let stored = entry(1000, 7);
    harness.levels[1].do_send(Store {
        key: key(1),
        entry: stored.clone(),
    });
    let events = events_when(&harness, |events| {
        finished_writes(&level_events(events, 1)) == 1
    })
    .await;
    // A write straight to the slow level: its level counts it, the cache (whose first level
    // takes the writes) does not.
    assert!(cache_wide(&events).is_empty(), "{events:#?}");

    let found = harness.chain.send(Lookup { key: key(1) }).await.unwrap();
    assert!(matches!(found, LookupResult::Hit(entry) if *entry == stored));
    let events = events_when(&harness, |events| {
        finished_writes(&level_events(events, 0)) == 1
    })
    .await;
    let fast_events = level_events(&events, 0);
    assert!(matches!(fast_events[0], LevelEvent::Miss { .. }));
    assert!(fast_events.contains(&LevelEvent::BackfillTo));
    let slow_events = level_events(&events, 1);
    assert!(matches!(slow_events[1], LevelEvent::Hit { .. }));
    assert!(slow_events.contains(&LevelEvent::BackfillFrom));
    // The write-back is not a compile's write.
    assert!(cache_wide(&events).is_empty(), "{events:#?}");
    assert!(matches!(
        look_up_directly(&harness.levels[0], key(1)).await,
        LookupResult::Hit(entry) if *entry == stored
    ));

    harness.chain.send(Lookup { key: key(1) }).await.unwrap();
    let events = collected(&harness).await;
    let hits = |level| {
        level_events(&events, level)
            .iter()
            .filter(|event| matches!(event, LevelEvent::Hit { .. }))
            .count()
    };
    assert_eq!((hits(0), hits(1)), (1, 1), "{events:#?}");
}

#[actix_rt::test]
async fn a_store_reaches_every_writable_level_and_counts_once_for_the_cache() {
    let fast = tempfile::tempdir().unwrap();
    let slow = tempfile::tempdir().unwrap();
    let harness = start(&[
        LevelSetup {
            dir: fast.path(),
            read_only: false,
            counts_failures: true,
        },
        LevelSetup {
            dir: slow.path(),
            read_only: false,
            counts_failures: false,
        },
    ]);
    harness.chain.do_send(Store {
        key: key(2),
        entry: entry(100, 1),
    });
    let events = events_when(&harness, |events| {
        finished_writes(&level_events(events, 0)) == 1
            && finished_writes(&level_events(events, 1)) == 1
    })
    .await;
    let wide = cache_wide(&events);
    assert_eq!(wide.len(), 1, "{events:#?}");
    assert!(matches!(wide[0], Event::WriteFinished { .. }));
    for disk in &harness.levels {
        assert!(matches!(
            look_up_directly(disk, key(2)).await,
            LookupResult::Hit(_)
        ));
    }
}

#[actix_rt::test]
async fn a_read_only_level_is_read_but_never_written_not_even_by_a_write_back() {
    let fast = tempfile::tempdir().unwrap();
    let slow = tempfile::tempdir().unwrap();
    let harness = start(&[
        LevelSetup {
            dir: fast.path(),
            read_only: true,
            counts_failures: false,
        },
        LevelSetup {
            dir: slow.path(),
            read_only: false,
            counts_failures: true,
        },
    ]);
    harness.chain.do_send(Store {
        key: key(3),
        entry: entry(100, 3),
    });
    let events = events_when(&harness, |events| {
        finished_writes(&level_events(events, 1)) == 1
    })
    .await;
    assert_eq!(level_events(&events, 0), vec![LevelEvent::WriteSkipped]);
    // The slow level is the first writable one: its write is the cache's.
    assert!(matches!(
        cache_wide(&events)[..],
        [Event::WriteFinished { .. }]
    ));
    let found = harness.chain.send(Lookup { key: key(3) }).await.unwrap();
    assert!(matches!(found, LookupResult::Hit(_)));
    // A write-back would be sent on the event loop's next turns; a store made after it and
    // landed shows those turns have passed.
    harness.chain.do_send(Store {
        key: key(5),
        entry: entry(100, 5),
    });
    events_when(&harness, |events| {
        finished_writes(&level_events(events, 1)) == 2
    })
    .await;
    assert!(matches!(
        look_up_directly(&harness.levels[0], key(3)).await,
        LookupResult::Miss
    ));
    assert!(std::fs::read_dir(fast.path())
        .unwrap()
        .all(|shard| std::fs::read_dir(shard.unwrap().path())
            .map(|mut files| files.next().is_none())
            .unwrap_or(true)));
    let events = collected(&harness).await;
    assert!(!level_events(&events, 0).contains(&LevelEvent::BackfillTo));
}

/// A level whose directory is a regular file: every write to it fails.
fn broken_dir(root: &Path) -> std::path::PathBuf {
    let path = root.join("not-a-directory");
    std::fs::write(&path, b"").unwrap();
    path
}

/// The cache-wide write failures after one store to a chain of a working level and a broken
/// one, with the broken level's failures counting or not.
async fn cache_wide_failures(broken_first: bool, counts_failures: bool) -> usize {
    let root = tempfile::tempdir().unwrap();
    let working = tempfile::tempdir().unwrap();
    let broken = broken_dir(root.path());
    let (first, second) = if broken_first {
        (broken.as_path(), working.path())
    } else {
        (working.path(), broken.as_path())
    };
    let harness = start(&[
        LevelSetup {
            dir: first,
            read_only: false,
            counts_failures: counts_failures || !broken_first,
        },
        LevelSetup {
            dir: second,
            read_only: false,
            counts_failures: !broken_first && counts_failures,
        },
    ]);
    let broken_level = if broken_first { 0 } else { 1 };
    harness.chain.do_send(Store {
        key: key(4),
        entry: entry(100, 4),
    });
    let events = events_when(&harness, |events| {
        level_events(events, broken_level).contains(&LevelEvent::WriteFailed)
            && finished_writes(&level_events(events, 1 - broken_level)) == 1
    })
    .await;
    events
        .iter()
        .filter(|event| matches!(event, Event::WriteFailed))
        .count()
}

#[actix_rt::test]
async fn a_failed_write_counts_for_the_cache_only_where_the_policy_says() {
    // `all`: a slower level's failure counts.
    assert_eq!(cache_wide_failures(false, true).await, 1);
    // `l0` or `ignore`: it does not.
    assert_eq!(cache_wide_failures(false, false).await, 0);
    // `l0` or `all` with the first level broken: it counts; `ignore`: it does not.
    assert_eq!(cache_wide_failures(true, true).await, 1);
    assert_eq!(cache_wide_failures(true, false).await, 0);
}
