//! AFL++ entry point of the `log_lines` target (built by `make fuzz`, see fuzz/run.sh).

fn main() {
    afl::fuzz!(|data: &[u8]| corral_fuzz::targets::log_lines(data));
}
