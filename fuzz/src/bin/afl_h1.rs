//! AFL++ entry point of the `h1` target (built by `make fuzz`, see fuzz/run.sh).

fn main() {
    afl::fuzz!(|data: &[u8]| corral_fuzz::targets::h1(data));
}
