//! Byte sizes as users write them (`10G`, `512M`, `1024`), for `SCCACHE_CACHE_SIZE`.

/// Parses a size with an optional K/M/G/T suffix (binary multiples, as sccache reads them).
/// Returns `None` for anything else, so the caller can name the setting in its error.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, multiplier) = match text.char_indices().last()? {
        (index, suffix) if suffix.is_ascii_alphabetic() => {
            let shift = match suffix.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return None,
            };
            (&text[..index], 1u64 << shift)
        }
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

/// Renders a byte count the way `--show-stats` shows sizes.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_binary_multiples() {
        assert_eq!(parse_size("10G"), Some(10 << 30));
        assert_eq!(parse_size("512m"), Some(512 << 20));
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("2T"), Some(2 << 40));
    }

    #[test]
    fn nonsense_is_refused() {
        for text in [
            "lots",
            "",
            "G",
            "10X",
            "-1",
            "1.5G",
            "99999999999999999999T",
        ] {
            assert_eq!(parse_size(text), None, "{text}");
        }
    }

    #[test]
    fn sizes_render_readably() {
        assert_eq!(format_size(12), "12 bytes");
        assert_eq!(format_size(10 << 30), "10.0 GiB");
    }
}
