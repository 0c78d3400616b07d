//! Progress on stderr while resolving: a spinner fed by the index client's counters.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use std::io::IsTerminal;

use fave_lock::diagnose::Phase;
use fave_lock::index::IndexStats;

/// A spinner that redraws from the counters until dropped; draws nothing when quiet or not a terminal.
pub struct Progress {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// A spinner labelled `label`, and a [`Phase`] whose steps the spinner shows. Where stderr is not a
    /// terminal (a CI log), the label and each step are printed as lines instead, so a long run is
    /// never silent.
    pub fn with_phase(label: String, stats: Arc<IndexStats>, quiet: bool) -> (Progress, Phase) {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {msg}").expect("static template"),
        );
        bar.set_prefix(label.clone());
        let current = Arc::new(Mutex::new(String::new()));
        let lines = !quiet && !std::io::stderr().is_terminal();
        if lines {
            eprintln!("{label}");
        }
        let phase = {
            let current = current.clone();
            Phase::new(move |text| {
                if lines {
                    eprintln!("{label}: {text}");
                }
                *current.lock().unwrap_or_else(PoisonError::into_inner) = format!("{text}; ");
            })
        };
        let ticking = bar.clone();
        let ticker = tokio::spawn(async move {
            loop {
                let requests = stats.requests.load(Ordering::Relaxed);
                let hits = stats.cache_hits.load(Ordering::Relaxed);
                let bytes = stats.bytes.load(Ordering::Relaxed);
                let doing = current
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                ticking.set_message(format!(
                    "{doing}{requests} requests, {hits} from cache, {:.1} MiB",
                    bytes as f64 / 1_048_576.0
                ));
                ticking.tick();
                tokio::time::sleep(Duration::from_millis(80)).await;
            }
        });
        (Progress { bar, ticker }, phase)
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}
