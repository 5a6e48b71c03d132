//! AFL++ entry point of the `api` target (built by `make fuzz`, see fuzz/run.sh).

fn main() {
    afl::fuzz!(|data: &[u8]| corral_fuzz::targets::api(data));
}
