//! The invocation's deadline, so every retry is budgeted from it: past the
//! function's timeout Lambda kills the container mid-call, and the buyer sees
//! API Gateway's bare 503 instead of our page, or a sent email is never
//! recorded. The handlers run their work inside [`scope`]; the places that
//! wait or retry ask [`remaining`]. Outside a scope (tests, the local server,
//! tdf-admin) there is no deadline.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Kept free at the end of an invocation: to answer, and to write one log line.
pub const MARGIN: Duration = Duration::from_millis(500);

/// The Lambda context's deadline (milliseconds since the epoch) as an instant, less [`MARGIN`].
pub fn from_epoch_millis(deadline_ms: u64) -> Option<Instant> {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_millis();
    let left = u128::from(deadline_ms).checked_sub(now_ms)?;
    let left = Duration::from_millis(u64::try_from(left).ok()?);
    Some(Instant::now() + left.saturating_sub(MARGIN))
}

/// The request's deadline, when it came through the Lambda runtime.
pub fn of_request(request: &lambda_http::Request) -> Option<Instant> {
    use lambda_http::RequestExt as _;
    request.lambda_context_ref().and_then(|context| from_epoch_millis(context.deadline))
}

/// Runs `work` with `deadline` (if any) visible to [`remaining`].
pub async fn scope<F: Future>(deadline: Option<Instant>, work: F) -> F::Output {
    match deadline {
        Some(deadline) => DEADLINE.scope(deadline, work).await,
        None => work.await,
    }
}

/// Time left before the deadline; `None` without one.
pub fn remaining() -> Option<Duration> {
    DEADLINE.try_with(|deadline| deadline.saturating_duration_since(Instant::now())).ok()
}

/// Is there at least `needed` left (always, without a deadline)?
pub fn allows(needed: Duration) -> bool {
    remaining().is_none_or(|left| left >= needed)
}

/// Runs `call`, giving up when the deadline comes (`None`): a call cut off
/// there has the same meaning as a timeout of its own.
pub async fn bounded<F: Future>(call: F) -> Option<F::Output> {
    match remaining() {
        Some(left) => tokio::time::timeout(left, call).await.ok(),
        None => Some(call.await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_scope_there_is_no_deadline() {
        assert_eq!(remaining(), None);
        assert!(allows(Duration::from_secs(3600)));
        assert_eq!(bounded(async { 7 }).await, Some(7));
    }

    #[tokio::test]
    async fn within_a_scope_calls_are_cut_off_at_the_deadline() {
        let deadline = Instant::now() + Duration::from_millis(50);
        scope(Some(deadline), async {
            assert!(remaining().is_some_and(|left| left <= Duration::from_millis(50)));
            assert!(allows(Duration::from_millis(10)) && !allows(Duration::from_secs(1)));
            let slow = bounded(tokio::time::sleep(Duration::from_secs(5))).await;
            assert_eq!(slow, None, "cut off");
            assert_eq!(remaining(), Some(Duration::ZERO));
        })
        .await;
    }

    #[test]
    fn the_context_deadline_keeps_a_margin() {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let deadline = from_epoch_millis(now_ms + 10_000).unwrap();
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_millis(9_500) && left > Duration::from_millis(9_000), "{left:?}");
        assert!(from_epoch_millis(now_ms - 1_000).is_none(), "already past");
    }
}
