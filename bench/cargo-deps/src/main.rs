//! A binary crate of the benchmark's graph: linked, so the graph has every common crate type.

fn main() {
    let text = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    match bench_cargo_deps::summarise(&text) {
        Ok(summary) => println!("{summary} {}", bench_cargo_deps::words(&text)),
        Err(error) => eprintln!("{error}"),
    }
}
