//! Prometheus metrics with Flux's names, in the text exposition format:
//! `gotk_reconcile_duration_seconds` (histogram), `gotk_reconcile_condition` and
//! `gotk_suspend_status` (gauges), and `gotk_resource_info`, which Flux leaves to a
//! kube-state-metrics configuration, with the same labels.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Flux's buckets: 10 exponential steps from 10 ms to 30 min.
fn buckets() -> [f64; 10] {
    let factor = (1800.0f64 / 0.01).powf(1.0 / 9.0);
    let mut out = [0.0; 10];
    let mut value = 0.01;
    for slot in &mut out {
        *slot = value;
        value *= factor;
    }
    out
}

/// `(kind, namespace, name)`.
type Key = (String, String, String);

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; 10],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    durations: BTreeMap<Key, Histogram>,
    ready: BTreeMap<Key, String>,
    suspended: BTreeMap<Key, bool>,
    info: BTreeMap<Key, BTreeMap<String, String>>,
}

/// The controller's metrics.
#[derive(Debug, Default)]
pub struct Metrics(Mutex<Inner>);

fn key(kind: &str, namespace: &str, name: &str) -> Key {
    (kind.to_owned(), namespace.to_owned(), name.to_owned())
}

impl Metrics {
    /// Records one reconcile of an object: how long it took, its `Ready` status after it
    /// (`True`, `False` or `Unknown`), and whether it is suspended.
    pub fn record(
        &self,
        (kind, namespace, name): (&str, &str, &str),
        took: Duration,
        ready: Option<&str>,
        suspended: bool,
    ) {
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let k = key(kind, namespace, name);
        let seconds = took.as_secs_f64();
        let h = inner.durations.entry(k.clone()).or_default();
        h.count += 1;
        h.sum += seconds;
        for (slot, bound) in h.counts.iter_mut().zip(buckets()) {
            if seconds <= bound {
                *slot += 1;
            }
        }
        if let Some(ready) = ready {
            inner.ready.insert(k.clone(), ready.to_owned());
        }
        inner.suspended.insert(k, suspended);
    }

    /// Sets the `gotk_resource_info` labels of an object.
    pub fn info(
        &self,
        (kind, namespace, name): (&str, &str, &str),
        labels: BTreeMap<String, String>,
    ) {
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        inner.info.insert(key(kind, namespace, name), labels);
    }

    /// Forgets a deleted object, as Flux does.
    pub fn forget(&self, kind: &str, namespace: &str, name: &str) {
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let k = key(kind, namespace, name);
        inner.durations.remove(&k);
        inner.ready.remove(&k);
        inner.suspended.remove(&k);
        inner.info.remove(&k);
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        let labels =
            |(kind, ns, name): &Key| format!("kind=\"{kind}\",name=\"{name}\",namespace=\"{ns}\"");
        out.push_str("# HELP gotk_reconcile_duration_seconds The duration in seconds of a GitOps Toolkit resource reconciliation.\n");
        out.push_str("# TYPE gotk_reconcile_duration_seconds histogram\n");
        for (k, h) in &inner.durations {
            let l = labels(k);
            for (count, bound) in h.counts.iter().zip(buckets()) {
                let _ = writeln!(
                    out,
                    "gotk_reconcile_duration_seconds_bucket{{{l},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "gotk_reconcile_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "gotk_reconcile_duration_seconds_sum{{{l}}} {}", h.sum);
            let _ = writeln!(
                out,
                "gotk_reconcile_duration_seconds_count{{{l}}} {}",
                h.count
            );
        }
        out.push_str("# HELP gotk_reconcile_condition The current condition status of a GitOps Toolkit resource reconciliation.\n");
        out.push_str("# TYPE gotk_reconcile_condition gauge\n");
        for (k, ready) in &inner.ready {
            let l = labels(k);
            for status in ["True", "False", "Unknown"] {
                let value = u8::from(ready == status);
                let _ = writeln!(
                    out,
                    "gotk_reconcile_condition{{{l},status=\"{status}\",type=\"Ready\"}} {value}"
                );
            }
        }
        out.push_str(
            "# HELP gotk_suspend_status The current suspend status of a GitOps Toolkit resource.\n",
        );
        out.push_str("# TYPE gotk_suspend_status gauge\n");
        for (k, suspended) in &inner.suspended {
            let _ = writeln!(
                out,
                "gotk_suspend_status{{{}}} {}",
                labels(k),
                u8::from(*suspended)
            );
        }
        out.push_str("# HELP gotk_resource_info The current state of a Flux resource.\n");
        out.push_str("# TYPE gotk_resource_info gauge\n");
        for labels in inner.info.values() {
            let text: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            let _ = writeln!(out, "gotk_resource_info{{{}}} 1", text.join(","));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_flux_names_and_buckets() {
        let metrics = Metrics::default();
        metrics.record(
            ("Kustomization", "flux-system", "apps"),
            Duration::from_millis(50),
            Some("True"),
            false,
        );
        let text = metrics.render();
        assert!(text.contains("gotk_reconcile_duration_seconds_count{kind=\"Kustomization\",name=\"apps\",namespace=\"flux-system\"} 1"), "{text}");
        assert!(text.contains("le=\"0.01\"} 0"), "{text}");
        assert!(
            text.contains("le=\"1800.0000000000011\"} 1")
                || text.contains("le=\"1800\"} 1")
                || text.contains("le=\"+Inf\"} 1"),
            "{text}"
        );
        assert!(text.contains("gotk_reconcile_condition{kind=\"Kustomization\",name=\"apps\",namespace=\"flux-system\",status=\"True\",type=\"Ready\"} 1"), "{text}");
        assert!(text.contains("gotk_suspend_status{kind=\"Kustomization\",name=\"apps\",namespace=\"flux-system\"} 0"), "{text}");
    }
}
