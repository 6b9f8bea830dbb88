//! Correlation and trace ids, and the clock execution reads.
//!
//! One correlation id per command; one W3C trace-context `trace_id` (32 hex digits)
//! per command and a fresh `span_id` (16 hex digits) per step, passed into every
//! BPCS, SPI and EPS message. With the deterministic setting (`--deterministic` or
//! `RUNE_DETERMINISTIC=1`) every id is a function of the plan (a step's span id is
//! its step id, a request's message id its step and attempt), every timestamp is
//! the plan's evaluation instant and every duration is zero, so final reports of
//! the same run are byte-identical whichever parallel step finished first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use data_encoding::HEXLOWER;
use jiff::Timestamp;

/// The environment variable that turns on the deterministic setting.
pub(crate) const DETERMINISTIC_ENV: &str = "RUNE_DETERMINISTIC";

/// Whether `RUNE_DETERMINISTIC` asks for deterministic ids and clock (`1`, `true`,
/// `yes`; anything else, or unset, does not).
pub(crate) fn deterministic_from_env() -> bool {
    std::env::var(DETERMINISTIC_ENV)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

/// Ids and clock of one command run.
#[derive(Debug)]
pub struct RunIds {
    /// The command's correlation id (a UUID).
    pub correlation_id: String,
    /// The command's W3C trace id.
    pub trace_id: String,
    deterministic: bool,
    fixed_now: Timestamp,
    next_span: AtomicU64,
    next_message: AtomicU64,
}

impl RunIds {
    /// Ids for a new run. `fixed_now` is the instant every timestamp reads in the
    /// deterministic setting (the plan's evaluation instant).
    pub fn new(deterministic: bool, fixed_now: Timestamp) -> Self {
        let (correlation_id, trace_id) = if deterministic {
            (
                "00000000-0000-4000-8000-000000000000".to_string(),
                format!("{:032x}", 1),
            )
        } else {
            let mut bytes = random::<16>();
            // RFC 9562 version 4, variant 10.
            bytes[6] = (bytes[6] & 0x0f) | 0x40;
            bytes[8] = (bytes[8] & 0x3f) | 0x80;
            let hex = HEXLOWER.encode(&bytes);
            let uuid = format!(
                "{}-{}-{}-{}-{}",
                &hex[0..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..32]
            );
            (uuid, nonzero_hex::<16>())
        };
        RunIds {
            correlation_id,
            trace_id,
            deterministic,
            fixed_now,
            next_span: AtomicU64::new(1),
            next_message: AtomicU64::new(1),
        }
    }

    /// Whether ids, timestamps and durations are fixed.
    pub fn deterministic(&self) -> bool {
        self.deterministic
    }

    /// A fresh span id (16 hex digits, never all zero).
    pub fn span_id(&self) -> String {
        let n = self.next_span.fetch_add(1, Ordering::Relaxed);
        if self.deterministic {
            format!("{n:016x}")
        } else {
            nonzero_hex::<8>()
        }
    }

    /// The span id of plan step `step`: in the deterministic setting a function
    /// of the step id alone (`{step:016x}`), so it does not depend on which
    /// parallel step ran first; else a fresh random one.
    pub fn span_for(&self, step: u64) -> String {
        if self.deterministic {
            // Step ids start at 1; 0 still never gives the all-zero id W3C forbids.
            format!("{:016x}", step.max(1))
        } else {
            nonzero_hex::<8>()
        }
    }

    /// The message id of the request of attempt `attempt` of plan step `step`:
    /// in the deterministic setting a function of both (`msg-STEP-ATTEMPT`), else
    /// unique within the run.
    pub fn message_id_for(&self, step: u64, attempt: u64) -> String {
        if self.deterministic {
            format!("msg-{step:06}-{attempt}")
        } else {
            self.message_id()
        }
    }

    /// A fresh message id for a BPCS or RCS message.
    pub fn message_id(&self) -> String {
        let n = self.next_message.fetch_add(1, Ordering::Relaxed);
        if self.deterministic {
            format!("msg-{n:06}")
        } else {
            format!("msg-{}-{n:06}", &self.trace_id[..8])
        }
    }

    /// The current instant (the fixed one in the deterministic setting).
    pub fn now(&self) -> Timestamp {
        if self.deterministic {
            self.fixed_now
        } else {
            Timestamp::now()
        }
    }

    /// Start timing something.
    pub fn stopwatch(&self) -> Stopwatch {
        Stopwatch {
            started: Instant::now(),
            deterministic: self.deterministic,
        }
    }
}

/// Measures one duration; reads zero in the deterministic setting.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    started: Instant,
    deterministic: bool,
}

impl Stopwatch {
    /// Time since the stopwatch started (real time, for deadlines).
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whole milliseconds to report: zero in the deterministic setting.
    pub fn reported_ms(&self) -> u64 {
        if self.deterministic {
            0
        } else {
            u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
        }
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source: fall back to the clock and the process id, which still
        // keeps ids of concurrent runs apart.
        let seed = Timestamp::now().as_nanosecond() as u128 ^ u128::from(std::process::id());
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (seed >> ((i % 16) * 8)) as u8;
        }
    }
    bytes
}

/// N random bytes as hex, never all zero (W3C trace context forbids it).
pub(crate) fn nonzero_hex<const N: usize>() -> String {
    let mut bytes = random::<N>();
    if bytes.iter().all(|b| *b == 0) {
        bytes[N - 1] = 1;
    }
    HEXLOWER.encode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_have_the_w3c_shape() {
        let ids = RunIds::new(false, Timestamp::UNIX_EPOCH);
        assert_eq!(ids.trace_id.len(), 32);
        assert!(ids.trace_id.bytes().all(|b| b.is_ascii_hexdigit()));
        let span = ids.span_id();
        assert_eq!(span.len(), 16);
        assert_ne!(span, ids.span_id());
        assert_eq!(ids.correlation_id.len(), 36);
        assert_eq!(&ids.correlation_id[14..15], "4");
    }

    #[test]
    fn deterministic_ids_and_clock_repeat() {
        let at: Timestamp = "2026-01-05T10:00:00Z".parse().unwrap();
        let a = RunIds::new(true, at);
        let b = RunIds::new(true, at);
        assert_eq!(a.correlation_id, b.correlation_id);
        assert_eq!(a.span_id(), b.span_id());
        assert_eq!(a.now(), at);
        assert_eq!(a.stopwatch().reported_ms(), 0);
    }
}
