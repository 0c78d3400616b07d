//! Progress on stderr while resolving: a spinner fed by the index client's counters.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use fave_lock::index::IndexStats;

/// A spinner that redraws from the counters until dropped; draws nothing when quiet or not a terminal.
pub struct Progress {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Progress {
    pub fn start(label: String, stats: Arc<IndexStats>, quiet: bool) -> Progress {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {msg}").expect("static template"),
        );
        bar.set_prefix(label);
        let ticking = bar.clone();
        let ticker = tokio::spawn(async move {
            loop {
                let requests = stats.requests.load(Ordering::Relaxed);
                let hits = stats.cache_hits.load(Ordering::Relaxed);
                let bytes = stats.bytes.load(Ordering::Relaxed);
                ticking.set_message(format!(
                    "{requests} requests, {hits} from cache, {:.1} MiB",
                    bytes as f64 / 1_048_576.0
                ));
                ticking.tick();
                tokio::time::sleep(Duration::from_millis(80)).await;
            }
        });
        Progress { bar, ticker }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}
