//! Fuzz targets for corral, each calling the real code, and the coverage-free random harness
//! that runs them in `make test` (AFL++ runs the same targets in `make fuzz`).

pub mod random;
pub mod targets;
