//! Capped exponential backoff shared by the relay and the consumers.

use std::time::Duration;

/// Doubles from `base` up to `max`; `reset` after a success.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            attempt: 0,
        }
    }

    /// The delay before the next attempt; each call doubles the following one.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(16));
        self.attempt = self.attempt.saturating_add(1);
        self.base.saturating_mul(factor).min(self.max)
    }

    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// `base * 2^(n-1)` capped at `max`, for the n-th delivery of a message.
pub(crate) fn delay_for_attempt(base: Duration, max: Duration, attempt: i64) -> Duration {
    let exp = attempt.saturating_sub(1).clamp(0, 16) as u32;
    base.saturating_mul(2u32.pow(exp)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_doubles_the_delay_up_to_the_cap_and_starts_over_after_a_reset() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let delays: Vec<_> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn it_grows_the_redelivery_delay_with_the_delivery_count() {
        let base = Duration::from_millis(50);
        let max = Duration::from_secs(1);
        assert_eq!(delay_for_attempt(base, max, 1), base);
        assert_eq!(delay_for_attempt(base, max, 3), Duration::from_millis(200));
        assert_eq!(delay_for_attempt(base, max, 100), max);
        assert_eq!(delay_for_attempt(base, max, 0), base);
    }
}
