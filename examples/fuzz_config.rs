//! A long fuzz run of config loading, outside CI: mutates `fixtures/llmhub.yaml` (bytes
//! flipped, YAML punctuation inserted, lines doubled or dropped, the text cut short) with a
//! seeded generator, loads each result with `Config::from_yaml_str`, renders any error, and
//! counts panics and problems placed outside the file.
//!
//! ```sh
//! cargo run --example fuzz_config -- [COUNT] [--seed SEED] [--seconds LIMIT]
//! ```
//!
//! COUNT defaults to 1,000,000; with `--seconds` the run stops early when the time is up and
//! says how many configs it checked. The same seed gives the same inputs, and each panic is
//! reported with its case number so that it can be replayed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use llmhub::{Config, Error};

const FIXTURE: &str = include_str!("../fixtures/llmhub.yaml");
const PUNCTUATION: &[u8] = b"[]{}:,&*!|>'\"#-";

/// xorshift64*: small, fast and good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Applies one random mutation to `text`.
fn mutate(rng: &mut Rng, text: &mut Vec<u8>) {
    let len = text.len().max(1);
    match rng.below(6) {
        0 if !text.is_empty() => {
            let at = rng.below(len);
            text[at] ^= 1 << rng.below(8);
        }
        1 => {
            let at = rng.below(len + 1).min(text.len());
            text.insert(at, PUNCTUATION[rng.below(PUNCTUATION.len())]);
        }
        2 | 3 => {
            let mut lines: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            let at = rng.below(lines.len());
            if rng.below(2) == 0 {
                let line = lines[at].clone();
                lines.insert(at, line);
            } else {
                lines.remove(at);
            }
            *text = lines.join(&b'\n');
        }
        4 => text.truncate(rng.below(len)),
        _ => {
            // A run of punctuation and spaces, as a careless edit would leave.
            let at = rng.below(len + 1).min(text.len());
            let run: Vec<u8> = (0..1 + rng.below(4))
                .map(|_| b" \n[]{}:,&*!|>'\"#-"[rng.below(17)])
                .collect();
            text.splice(at..at, run);
        }
    }
}

/// Loads `text` and renders its error: whether it is valid, or what went wrong without a
/// panic.
fn check(text: &str) -> Result<bool, String> {
    match Config::from_yaml_str_named(text, "llmhub.yaml") {
        Ok(_) => Ok(true),
        Err(Error::Config(err)) => {
            let lines = yaml_line_count(text);
            for problem in &err.problems {
                if problem.line > lines.max(1) {
                    return Err(format!(
                        "problem past the end of the file ({lines} lines): {problem}"
                    ));
                }
            }
            let _ = err.to_string();
            Ok(false)
        }
        Err(other) => Err(format!("not a config error: {other:?}")),
    }
}

/// How many lines `text` has, counting line breaks as YAML does: `\n`, `\r\n` and a lone `\r`.
fn yaml_line_count(text: &str) -> usize {
    let bytes = text.as_bytes();
    let breaks = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count();
    let ends_with_break = matches!(bytes.last(), Some(b'\n' | b'\r'));
    breaks + usize::from(!bytes.is_empty() && !ends_with_break)
}

fn main() {
    let mut count = 1_000_000usize;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut limit: Option<Duration> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match arg.as_str() {
            "--seed" => seed = value("--seed").parse().expect("--seed takes a number"),
            "--seconds" => {
                let secs: u64 = value("--seconds")
                    .parse()
                    .expect("--seconds takes a number");
                limit = Some(Duration::from_secs(secs));
            }
            n => count = n.parse().expect("COUNT is a number"),
        }
    }

    // Panics are counted and reported below, not printed by the default hook.
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed.max(1));
    let start = Instant::now();
    let (mut done, mut panics, mut wrong, mut valid) = (0usize, 0usize, 0usize, 0usize);
    for case in 0..count {
        if limit.is_some_and(|limit| start.elapsed() >= limit) {
            break;
        }
        let mut bytes = FIXTURE.as_bytes().to_vec();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut bytes);
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match catch_unwind(AssertUnwindSafe(|| check(&text))) {
            Ok(Ok(is_valid)) => valid += usize::from(is_valid),
            Ok(Err(why)) => {
                wrong += 1;
                if wrong <= 5 {
                    eprintln!("case {case}: {why}\n--- input ---\n{text}\n---");
                }
            }
            Err(payload) => {
                panics += 1;
                if panics <= 5 {
                    let message = payload
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    eprintln!("case {case}: panic: {message}\n--- input ---\n{text}\n---");
                }
            }
        }
        done += 1;
        if done.is_multiple_of(100_000) {
            eprintln!("{done} configs, {panics} panics, {:.0?}", start.elapsed());
        }
    }
    println!(
        "{done} configs (seed {seed}) in {:.1?}: {panics} panics, {wrong} problems outside the file or other errors, {valid} still valid",
        start.elapsed()
    );
    if panics > 0 || wrong > 0 {
        std::process::exit(1);
    }
}
