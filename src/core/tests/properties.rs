//! Property tests (bounded fuzzing) of everything in the core that reads untrusted input: the
//! frame reader, the message decoders, the entry decoder, the gcc/clang and rustc argument
//! parsers, dep-info and size parsing. Each runs a fixed number of random cases inside
//! `cargo test`; proptest keeps any failing input under `proptest-regressions/` so it is
//! replayed first from then on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on anything unexpected"
)]

use proptest::prelude::*;
use sccache_core::compiler::{gcc, rust, OutputRole, Parsed};
use sccache_core::entry::CacheEntry;
use sccache_core::framing::{read_frame, MAX_FRAME_LEN};
use sccache_core::hash_key::CacheKey;
use sccache_core::protocol::{decode_envelope, decode_response};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

/// Arguments drawn mostly from real flags, so the parsers' interesting paths are reached, with
/// random and non-UTF-8 ones mixed in.
fn argument() -> impl Strategy<Value = OsString> {
    let flags = prop::sample::select(vec![
        "-c",
        "-o",
        "-E",
        "-S",
        "-M",
        "-MM",
        "-MD",
        "-MMD",
        "-MF",
        "-MT",
        "-MQ",
        "-MP",
        "-x",
        "c",
        "c++",
        "none",
        "-I",
        "-D",
        "-U",
        "-include",
        "-isystem",
        "-g",
        "-g0",
        "-O2",
        "-gsplit-dwarf",
        "--coverage",
        "-save-temps",
        "-",
        "a.c",
        "b.c",
        "x.o",
        "@args",
        "-arch",
        "x86_64",
        "-Xclang",
        "-fprofile-use",
        "--crate-name",
        "foo",
        "--crate-type",
        "lib",
        "bin",
        "rlib",
        "--emit",
        "dep-info,metadata,link",
        "--out-dir",
        "out",
        "-L",
        "dependency=out",
        "--extern",
        "bar=out/libbar.rlib",
        "-C",
        "incremental=x",
        "opt-level=3",
        "--cfg",
        "feature=\"x\"",
        "src/lib.rs",
        "--print",
        "file-names",
        "-vV",
        "--edition=2021",
        "--error-format=json",
        "-Z",
        "--test",
        "-l",
        "static=z",
        "-Wl,-x",
        "--param",
        "-std=c11",
        "-Werror",
        "-fPIC",
    ])
    .prop_map(OsString::from);
    prop_oneof![
        6 => flags,
        1 => "[-a-zA-Z0-9=.,/@]{0,12}".prop_map(OsString::from),
        1 => prop::collection::vec(any::<u8>(), 0..8).prop_map(OsString::from_vec),
    ]
}

/// The flags of `argument()`'s vocabulary whose value, when not glued to them, is the next
/// argument whatever it looks like (gcc's table: `Separate`, or `Either` standing alone).
const TAKES_NEXT: &[&str] = &[
    "-o",
    "-x",
    "-MF",
    "-MT",
    "-MQ",
    "-I",
    "-D",
    "-U",
    "-include",
    "-isystem",
    "-arch",
    "-Xclang",
    "-Xlinker",
    "-Xassembler",
    "-Xpreprocessor",
    "-L",
    "-l",
    "--param",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn frame_reader_never_panics_and_respects_the_limit(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(frame) = read_frame(&mut &bytes[..]) {
            prop_assert!(frame.len() <= MAX_FRAME_LEN);
            prop_assert!(frame.len() + 4 <= bytes.len());
        }
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_envelope(&bytes);
        let _ = decode_response(&bytes);
        let _ = CacheEntry::decode(&bytes, &CacheKey([0; 32]));
    }

    #[test]
    fn gcc_parser_never_panics_and_keeps_its_promises(args in prop::collection::vec(argument(), 0..12)) {
        if let Parsed::Cacheable(compilation) = gcc::parse(&args, Path::new("/nonexistent")) {
            prop_assert_eq!(compilation.outputs.first().map(|output| output.role), Some(OutputRole::Object));
            prop_assert!(compilation.preprocess_args.iter().any(|arg| arg == "-E"));
            prop_assert!(!compilation.preprocess_args.iter().any(|arg| arg == "-c"));
            // No flag that writes a file reaches the preprocessor. (The same text as another
            // flag's value is no flag: gcc reads `--param -MD` as `--param=-MD`.)
            let mut args = compilation.preprocess_args.iter();
            while let Some(arg) = args.next() {
                prop_assert!(!["-MD", "-MMD", "-o"].iter().any(|written| arg == written), "{:?} in {:?}", arg, compilation.preprocess_args);
                if TAKES_NEXT.iter().any(|flag| arg == flag) {
                    args.next();
                }
            }
        }
    }

    #[test]
    fn rustc_parser_never_panics(args in prop::collection::vec(argument(), 0..16)) {
        if let Parsed::Cacheable(compilation) = rust::parse(&args, Path::new("/nonexistent")) {
            prop_assert!(!compilation.crate_name.is_empty());
            prop_assert!(!compilation.outputs.is_empty());
        }
    }

    #[test]
    fn dep_info_and_sizes_never_panic(text in "\\PC{0,200}") {
        let _ = rust::parse_dep_info(&text);
        let _ = sccache_core::size::parse_size(&text);
    }
}
