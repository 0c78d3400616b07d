//! Two classes of request: the ones something is waiting for (the solver's next page or metadata file,
//! the ABI check's wheels once the lock is known) and speculative ones (the crawl, fetch-ahead and the
//! ABI prescan, which guess). A speculative request holds one of a smaller pool of permits before it
//! may take one of the client's, so guesses never fill every slot and an awaited request never queues
//! behind a backlog of them (issue 16: an awaited fetch could wait behind 30 queued guesses).
//!
//! A guess that turns out to be needed is promoted: whoever starts waiting for it calls
//! [`Speculation::promote`], and its requests (the one queued and the ones after) skip the speculative
//! pool. The class travels with the task (a task-local), so the code in between knows nothing of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Notify, Semaphore, SemaphorePermit};

tokio::task_local! {
    static SPECULATION: Arc<Speculation>;
}

/// One guess: the requests made under it are speculative until it is promoted.
#[derive(Debug, Default)]
pub struct Speculation {
    promoted: AtomicBool,
    notify: Notify,
}

impl Speculation {
    pub fn new() -> Arc<Speculation> {
        Arc::default()
    }

    /// Someone now waits for this guess: its requests are awaited ones from here on.
    pub fn promote(&self) {
        if !self.promoted.swap(true, Ordering::AcqRel) {
            self.notify.notify_waiters();
        }
    }

    pub fn is_promoted(&self) -> bool {
        self.promoted.load(Ordering::Acquire)
    }

    /// Run `future` with its requests in this guess's class.
    pub async fn scope<F: Future>(self: Arc<Self>, future: F) -> F::Output {
        SPECULATION.scope(self, future).await
    }

    /// The guess the current task runs under; `None` when something awaits the task's requests.
    pub fn current() -> Option<Arc<Speculation>> {
        SPECULATION.try_with(Arc::clone).ok()
    }
}

/// The speculative pool's permit, when the request took one (held with the client's permit).
pub(crate) struct Gate<'a> {
    _speculative: Option<SemaphorePermit<'a>>,
}

/// Wait for a speculative permit when the current task is an unpromoted guess; return at once
/// otherwise, or as soon as the guess is promoted.
pub(crate) async fn pass(speculative: &Semaphore) -> Gate<'_> {
    let Some(speculation) = Speculation::current() else {
        return Gate { _speculative: None };
    };
    let promoted = speculation.notify.notified();
    tokio::pin!(promoted);
    // Registered before the check, so a promotion in between is not missed.
    promoted.as_mut().enable();
    if speculation.is_promoted() {
        return Gate { _speculative: None };
    }
    tokio::select! {
        // The semaphore is never closed: `acquire` cannot fail.
        permit = speculative.acquire() => Gate { _speculative: permit.ok() },
        () = promoted => Gate { _speculative: None },
    }
}

/// How many of `concurrency` permits guesses may hold at once: half, so the other half is always free
/// for awaited requests.
pub(crate) fn speculative_share(concurrency: usize) -> usize {
    (concurrency / 2).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_guess_waits_for_the_speculative_pool_until_promoted_and_awaited_requests_never_do() {
        let pool = Semaphore::new(1);
        let held = pool.acquire().await.unwrap();
        // Awaited: no gate at all, even with the pool empty.
        let gate = pass(&pool).await;
        assert!(gate._speculative.is_none());
        // A guess queues on the empty pool...
        let guess = Speculation::new();
        let waiting = tokio::spawn({
            let guess = guess.clone();
            async move {
                let pool = Semaphore::new(0);
                guess
                    .scope(async { pass(&pool).await._speculative.is_none() })
                    .await
            }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        // ...and passes once promoted, without a permit.
        guess.promote();
        assert!(waiting.await.unwrap());
        // A promoted guess passes at once.
        let skipped = guess.clone().scope(pass(&pool)).await;
        assert!(skipped._speculative.is_none());
        drop(held);
        // An unpromoted one takes a permit when there is one.
        let fresh = Speculation::new();
        assert!(fresh.scope(pass(&pool)).await._speculative.is_some());
        assert_eq!(speculative_share(16), 8);
        assert_eq!(speculative_share(1), 1);
    }
}
