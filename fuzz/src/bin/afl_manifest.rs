//! AFL++ entry point of the `manifest` target (built by `make fuzz`, see fuzz/run.sh).

fn main() {
    afl::fuzz!(|data: &[u8]| corral_fuzz::targets::manifest(data));
}
