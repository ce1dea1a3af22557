//! Progress of an apply on standard error: one line rewritten in place on a terminal, a plain
//! line per phase otherwise (logs, CI).

use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;

use weir_apply::Progress;

/// Writes [`Progress`] reports to standard error.
pub(crate) struct Display {
    terminal: bool,
    /// The last phase printed as a plain line, so each phase is printed once.
    last: Mutex<String>,
}

impl Display {
    /// A display for standard error, live when it is a terminal.
    pub(crate) fn stderr() -> Self {
        Display {
            terminal: std::io::stderr().is_terminal(),
            last: Mutex::new(String::new()),
        }
    }

    /// Shows one report.
    pub(crate) fn show(&self, progress: Progress<'_>) {
        let (phase, detail) = describe(progress);
        let mut err = std::io::stderr().lock();
        if self.terminal {
            // Erase the line and write the new state, without a newline.
            let _ = write!(err, "\r\x1b[2K{phase}{detail}");
            let _ = err.flush();
            return;
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if *last != phase {
            let _ = writeln!(err, "{phase}");
            *last = phase;
        }
    }

    /// Clears the live line, before the result is printed.
    pub(crate) fn finish(&self) {
        if self.terminal {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
    }
}

/// A report as a phase (printed once in plain mode) and a detail (live mode only).
fn describe(progress: Progress<'_>) -> (String, String) {
    match progress {
        Progress::Validating {
            stage,
            stages,
            done,
            total,
        } => (
            format!("stage {stage}/{stages}: validating {total} objects (server-side dry run)"),
            format!(" {done}/{total}"),
        ),
        Progress::Applying {
            stage,
            stages,
            done,
            total,
        } => (
            format!("stage {stage}/{stages}: applying {total} objects"),
            format!(" {done}/{total}"),
        ),
        Progress::Establishing { id } => {
            (format!("waiting for {id} to be established"), String::new())
        }
        Progress::Pruning { done, total } => (
            format!("pruning {total} objects"),
            format!(" {done}/{total}"),
        ),
        Progress::Waiting {
            ready,
            total,
            waiting,
        } => (
            format!("waiting for {total} objects to be ready"),
            match waiting {
                Some((id, why)) => format!(": {ready}/{total} ready, {id}: {why}"),
                None => format!(": {ready}/{total} ready"),
            },
        ),
        _ => (String::new(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use weir_object::ObjectId;

    use super::*;

    #[test]
    fn phases_do_not_depend_on_counts_so_plain_output_prints_each_once() {
        let a = describe(Progress::Applying {
            stage: 1,
            stages: 2,
            done: 0,
            total: 5,
        });
        let b = describe(Progress::Applying {
            stage: 1,
            stages: 2,
            done: 4,
            total: 5,
        });
        assert_eq!(a.0, b.0);
        assert_eq!(a.0, "stage 1/2: applying 5 objects");
        assert_eq!(b.1, " 4/5");
        let id = ObjectId::new("apps", "Deployment", "ns", "web");
        let waiting = describe(Progress::Waiting {
            ready: 1,
            total: 3,
            waiting: Some((&id, "InProgress: 0 of 1 replicas available")),
        });
        assert_eq!(
            waiting.1,
            ": 1/3 ready, Deployment/ns/web: InProgress: 0 of 1 replicas available"
        );
    }
}
