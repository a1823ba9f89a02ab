//! Sizes as people write them (`500MiB`, `2GB`, `1024`) and as we print them.

use std::str::FromStr;

/// Parses `SIZE` for the quota flags: a number of bytes with an optional unit (KB/MB/GB/TB are
/// powers of 1000, KiB/MiB/GiB/TiB powers of 1024).
pub fn parse(text: &str) -> Result<u64, String> {
    bytesize::ByteSize::from_str(text.trim())
        .map(|size| size.as_u64())
        .map_err(|_| {
            format!("{text:?} is not a size: give bytes with an optional unit, e.g. 500MiB or 2GB")
        })
}

/// `1.5 GiB`-style text.
pub fn human(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().iec().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_parse_in_both_unit_systems() {
        assert_eq!(super::parse("1024").unwrap(), 1024);
        assert_eq!(super::parse("2KiB").unwrap(), 2048);
        assert_eq!(super::parse("1MB").unwrap(), 1_000_000);
        assert!(super::parse("lots").is_err());
        assert_eq!(super::human(1536), "1.5 KiB");
    }
}
