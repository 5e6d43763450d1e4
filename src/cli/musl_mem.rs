//! `memcmp` and `bcmp` for the static musl build (`cargo build-static`). musl's compare a byte
//! at a time; every slice and string comparison of the server goes through them (`==` on
//! byte slices is `bcmp`, ordering them is `memcmp`), and a C compile's record sorts and
//! compares thousands of long include paths sharing their first fifty bytes: with musl's, 12 %
//! of a cold C build's server CPU was `memcmp` (bench/README.md). These compare eight bytes at
//! a time, and replace musl's in the static link (a definition in the program comes before
//! the C library's archive). Glibc builds keep glibc's, which are faster still.

#[cfg(any(test, target_env = "musl"))]
use std::cmp::Ordering;

/// How `left` and `right`, of one length, compare as unsigned bytes: negative, zero or
/// positive, as `memcmp` answers. No slice comparison inside: that would call back here.
#[cfg(any(test, target_env = "musl"))]
fn compare(left: &[u8], right: &[u8]) -> i32 {
    let mut words = left.chunks_exact(8).zip(right.chunks_exact(8));
    let unequal_word = words.find_map(|(a, b)| {
        let word = |bytes: &[u8]| u64::from_be_bytes(bytes.try_into().unwrap_or([0; 8]));
        match word(a).cmp(&word(b)) {
            Ordering::Equal => None,
            Ordering::Less => Some(-1),
            Ordering::Greater => Some(1),
        }
    });
    if let Some(answer) = unequal_word {
        return answer;
    }
    let tail = left.len() - left.len() % 8;
    left[tail..]
        .iter()
        .zip(&right[tail..])
        .map(|(a, b)| i32::from(*a) - i32::from(*b))
        .find(|difference| *difference != 0)
        .unwrap_or(0)
}

/// The `len` bytes at `pointer` (none for a zero length, whatever the pointer: C callers pass
/// null with it).
///
/// # Safety
/// `pointer` must point to `len` readable bytes when `len` is not zero.
#[cfg(all(target_env = "musl", not(test)))]
unsafe fn bytes<'a>(pointer: *const std::ffi::c_void, len: usize) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: memcmp's contract: `len` readable bytes at a non-null pointer.
    unsafe { std::slice::from_raw_parts(pointer.cast::<u8>(), len) }
}

/// C's `memcmp`, for the whole static program.
///
/// # Safety
/// As C's: `left` and `right` each point to `len` readable bytes.
#[cfg(all(target_env = "musl", not(test)))]
#[no_mangle]
pub unsafe extern "C" fn memcmp(
    left: *const std::ffi::c_void,
    right: *const std::ffi::c_void,
    len: usize,
) -> std::ffi::c_int {
    // SAFETY: passed on from the caller.
    unsafe { compare(bytes(left, len), bytes(right, len)) }
}

/// C's `bcmp` (zero when equal), which compilers call for equality tests.
///
/// # Safety
/// As `memcmp`.
#[cfg(all(target_env = "musl", not(test)))]
#[no_mangle]
pub unsafe extern "C" fn bcmp(
    left: *const std::ffi::c_void,
    right: *const std::ffi::c_void,
    len: usize,
) -> std::ffi::c_int {
    // SAFETY: passed on from the caller.
    unsafe { memcmp(left, right, len) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sign `memcmp` must answer, by the standard library's own ordering.
    fn expected(left: &[u8], right: &[u8]) -> i32 {
        match left.cmp(right) {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        }
    }

    #[test]
    fn compares_as_memcmp_does_at_every_length_and_position() {
        for len in 0..40usize {
            let base: Vec<u8> = (0..len).map(|index| (index * 37 % 256) as u8).collect();
            assert_eq!(compare(&base, &base), 0, "len {len}");
            for at in 0..len {
                for delta in [1u8, 0x80, 0xff] {
                    let mut other = base.clone();
                    other[at] = other[at].wrapping_add(delta);
                    assert_eq!(
                        compare(&base, &other).signum(),
                        expected(&base, &other),
                        "len {len}, difference at {at}"
                    );
                    assert_eq!(
                        compare(&other, &base).signum(),
                        expected(&other, &base),
                        "len {len}, difference at {at}, swapped"
                    );
                }
            }
        }
    }
}
