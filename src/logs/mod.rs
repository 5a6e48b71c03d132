//! Log capture, reading and following (DESIGN.md §6).
