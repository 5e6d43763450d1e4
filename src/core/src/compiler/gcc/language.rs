//! The language of a gcc/clang input: the one a `-x` value names, or the one gcc gives a file by
//! its extension.
//!
//! Languages the cache cannot handle are reported as refusals with their stats label; it must
//! not look at the file itself.

use crate::compiler::Language;
use std::ffi::OsStr;
use std::path::Path;

/// The language a `-x` value names; `Ok(None)` for `-x none`.
pub(super) fn x_language(x: &str) -> Result<Option<Language>, &'static str> {
    Ok(Some(match x {
        "none" => return Ok(None),
        "c" => Language::C,
        "c++" => Language::Cxx,
        "objective-c" => Language::ObjectiveC,
        "objective-c++" => Language::ObjectiveCxx,
        "cpp-output" => Language::PreprocessedC,
        "c++-cpp-output" => Language::PreprocessedCxx,
        "assembler" => Language::Assembler,
        "assembler-with-cpp" => Language::AssemblerWithCpp,
        "objective-c-cpp-output"
        | "objc-cpp-output"
        | "objective-c++-cpp-output"
        | "objc++-cpp-output" => return Err("preprocessed Objective-C"),
        _ => return Err("unknown -x language"),
    }))
}

/// The language gcc gives a source file by its extension.
pub(super) fn ext_language(input: &OsStr) -> Result<Language, &'static str> {
    let ext = Path::new(input).extension().and_then(OsStr::to_str);
    Ok(match ext.unwrap_or("") {
        "c" => Language::C,
        "i" => Language::PreprocessedC,
        "cc" | "cpp" | "cxx" | "c++" | "C" | "CC" | "cp" | "CPP" => Language::Cxx,
        "ii" => Language::PreprocessedCxx,
        "m" => Language::ObjectiveC,
        "mm" | "M" => Language::ObjectiveCxx,
        "S" | "sx" => Language::AssemblerWithCpp,
        "s" => Language::Assembler,
        // The enum has no preprocessed Objective-C; calling it Objective-C would make `-E`
        // print nothing for it and every such file share one key.
        "mi" | "mii" => return Err("preprocessed Objective-C"),
        "o" | "a" | "so" | "obj" | "lib" | "dylib" => return Err("linker input file"),
        _ => return Err("unknown source language"),
    })
}
