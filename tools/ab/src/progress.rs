//! Progress on stderr: an indicatif bar with the current row, phase and live
//! req/s when stderr is a terminal, plain lines per run otherwise.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::units::group_thousands;

/// Progress of the whole benchmark.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    state: RefCell<State>,
}

/// What the bar shows about the current run.
#[derive(Debug, Default)]
struct State {
    label: String,
    phase: String,
    last: Option<(Instant, u64)>,
    rps: f64,
    errors: u64,
}

impl Progress {
    /// A bar over `runs` runs (hidden when stderr is not a terminal).
    pub(crate) fn new(runs: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(runs);
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] [{bar:24.cyan/blue}] {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            state: RefCell::new(State::default()),
        }
    }

    /// A new run begins, e.g. `tokio-ct (rep 2/3)`.
    pub(crate) fn start_run(&self, label: String) {
        *self.state.borrow_mut() = State {
            label,
            ..State::default()
        };
        self.redraw();
    }

    /// The current run's phase: starting server, warm-up, measuring.
    pub(crate) fn phase(&self, phase: &str) {
        self.state.borrow_mut().phase = phase.to_string();
        self.redraw();
    }

    /// Counters from the load generator; updates the live rate.
    pub(crate) fn counts(&self, measuring: bool, responses: u64, errors: u64) {
        let now = Instant::now();
        {
            let mut s = self.state.borrow_mut();
            if let Some((t, n)) = s.last {
                let dt = now.duration_since(t).as_secs_f64();
                if dt > 0.0 {
                    s.rps = responses.saturating_sub(n) as f64 / dt;
                }
            }
            s.last = Some((now, responses));
            s.errors = errors;
            if measuring {
                s.phase = "measuring".to_string();
            }
        }
        self.redraw();
    }

    fn redraw(&self) {
        let Some(bar) = &self.bar else { return };
        let s = self.state.borrow();
        let mut msg = format!("{}: {}", s.label, s.phase);
        if s.last.is_some() {
            msg.push_str(&format!(" | {} req/s", group_thousands(s.rps)));
        }
        if s.errors > 0 {
            msg.push_str(&format!(" | {} errors", s.errors));
        }
        bar.set_message(msg);
    }

    /// The current run ended; `line` summarizes it.
    pub(crate) fn finish_run(&self, line: &str) {
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => eprintln!("{line}"),
        }
    }

    /// A message above the bar.
    pub(crate) fn note(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
