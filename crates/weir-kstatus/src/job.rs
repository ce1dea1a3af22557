//! Jobs.
//!
//! A running Job is already Current: kstatus judges whether the Job was accepted and started,
//! not whether it finished, so that applying a long batch Job does not block until it ends.
//! Only a `Failed` condition makes it Failed.
//!
//! A suspended Job is Current, as in upstream kstatus. Flux's fork of cli-utils
//! (`github.com/fluxcd/cli-utils`) predates that rule and reports a Job suspended before it
//! started as "Job not started", which would hold a health check until it times out.

use crate::Health;
use crate::object::{Object, ObservedCondition};

pub(crate) fn health(object: &Object<'_>, conditions: &[ObservedCondition<'_>]) -> Health {
    let parallelism = object.int_or(&["spec", "parallelism"], 1);
    // Unset completions means "any one pod succeeding", which kstatus reports as parallelism.
    let completions = object.int_or(&["spec", "completions"], parallelism);
    let succeeded = object.int_or(&["status", "succeeded"], 0);
    let active = object.int_or(&["status", "active"], 0);
    let failed = object.int_or(&["status", "failed"], 0);
    let suspended = object.bool_or(&["spec", "suspend"], false);

    // The first decisive condition in list order wins.
    for c in conditions.iter().filter(|c| c.status == "True") {
        match c.type_ {
            "Complete" => {
                let message = format!("Job Completed. succeeded: {succeeded}/{completions}");
                return Health::current(message);
            }
            "Failed" => {
                let message = format!("Job Failed. failed: {failed}/{completions}");
                return Health::failed("JobFailed", message);
            }
            // Both the spec and the controller must agree: otherwise the Job is on its way into
            // or out of suspension.
            "Suspended" if suspended => return Health::current("Job is suspended"),
            _ => {}
        }
    }

    if object.str_or(&["status", "startTime"], "").is_empty() {
        return Health::in_progress("JobNotStarted", "Job not started");
    }
    Health::current(format!(
        "Job in progress. success:{succeeded}, active: {active}, failed: {failed}"
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::Status;
    use crate::testing::check;

    fn job(suspend: bool, status: Value) -> Value {
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": { "name": "db-migrate", "namespace": "apps", "generation": 1 },
            "spec": {
                "completions": 1,
                "parallelism": 1,
                "backoffLimit": 2,
                "suspend": suspend,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{ "name": "migrate", "image": "ghcr.io/example/migrate:1.4.0" }],
                    },
                },
            },
            "status": status,
        })
    }

    #[test]
    fn new_job_is_in_progress() {
        check(
            &job(false, json!({})),
            Status::InProgress,
            "Job not started",
            Some("JobNotStarted"),
        );
    }

    #[test]
    fn running_job_is_current() {
        let object = job(
            false,
            json!({ "startTime": "2024-05-01T11:58:00Z", "active": 1, "ready": 1 }),
        );
        check(
            &object,
            Status::Current,
            "Job in progress. success:0, active: 1, failed: 0",
            None,
        );
    }

    #[test]
    fn completed_job_is_current() {
        let object = job(
            false,
            json!({
                "startTime": "2024-05-01T11:58:00Z",
                "completionTime": "2024-05-01T11:59:10Z",
                "succeeded": 1,
                "conditions": [
                    { "type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached" },
                    { "type": "Complete", "status": "True", "reason": "CompletionsReached" },
                ],
            }),
        );
        check(
            &object,
            Status::Current,
            "Job Completed. succeeded: 1/1",
            None,
        );
    }

    #[test]
    fn failed_job_is_failed() {
        let object = job(
            false,
            json!({
                "startTime": "2024-05-01T11:58:00Z",
                "failed": 3,
                "conditions": [
                    { "type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded" },
                    {
                        "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                        "message": "Job has reached the specified backoff limit",
                    },
                ],
            }),
        );
        check(
            &object,
            Status::Failed,
            "Job Failed. failed: 3/1",
            Some("JobFailed"),
        );
    }

    #[test]
    fn completions_default_to_parallelism() {
        let mut object = job(
            false,
            json!({
                "startTime": "2024-05-01T11:58:00Z", "succeeded": 1,
                "conditions": [{ "type": "Complete", "status": "True" }],
            }),
        );
        let spec = object["spec"].as_object_mut().expect("an object");
        spec.remove("completions");
        spec.insert("parallelism".into(), json!(4));
        check(
            &object,
            Status::Current,
            "Job Completed. succeeded: 1/4",
            None,
        );
    }

    #[test]
    fn suspended_job_is_current() {
        let object = job(
            true,
            json!({ "conditions": [{ "type": "Suspended", "status": "True", "reason": "JobSuspended" }] }),
        );
        check(&object, Status::Current, "Job is suspended", None);
    }

    #[test]
    fn job_moving_in_or_out_of_suspension_is_in_progress() {
        let cases = [
            (true, "False"),  // asked to suspend, not yet suspended
            (false, "True"),  // resumed, controller not caught up
            (false, "False"), // resumed and acknowledged, not yet started
        ];
        for (suspend, condition_status) in cases {
            let object = job(
                suspend,
                json!({ "conditions": [{ "type": "Suspended", "status": condition_status }] }),
            );
            check(
                &object,
                Status::InProgress,
                "Job not started",
                Some("JobNotStarted"),
            );
        }
    }
}
