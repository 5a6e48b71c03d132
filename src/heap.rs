//! The controller's own heap (glibc malloc): few arenas, so that threads that come and go do
//! not each leave an arena of freed memory behind.

/// Caps glibc's malloc arenas at 2 (its default is 8 per core, one for each thread that
/// allocates while the others are busy): the blocking pool's threads come and go, and each
/// arena keeps freed memory of its own. Call before any thread starts.
pub fn few_arenas() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes an allocator setting, before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
