//! CEL expressions of a Kustomization: `healthCheckExprs` (custom health of objects of a
//! kind) and `dependsOn[].readyExpr` (custom readiness of a dependency), as Flux evaluates
//! them. A compile error is a configuration error (the object stalls); an evaluation error
//! (a field not there yet) leaves the object in progress.

use serde_json::Value;
use weir_kstatus::{Health, Status};

/// A compiled expression and its source, for messages.
pub struct Expr {
    program: cel::Program,
    source: String,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

impl Expr {
    /// Compiles `source`; the error says where it is wrong.
    pub fn compile(source: &str) -> Result<Self, String> {
        let program = cel::Program::compile(source)
            .map_err(|e| format!("failed to parse expression '{source}': {e}"))?;
        Ok(Expr {
            program,
            source: source.to_owned(),
        })
    }

    /// Evaluates the expression with `vars` bound, expecting a boolean.
    pub fn eval(&self, vars: &[(&str, &Value)]) -> Result<bool, String> {
        let mut context = cel::Context::default();
        for (name, value) in vars {
            let value = cel::to_value(value).map_err(|e| e.to_string())?;
            context.add_variable_from_value(*name, value);
        }
        match self.program.execute(&context) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!(
                "expression '{}' gave {other:?}, not a boolean",
                self.source
            )),
            Err(e) => Err(format!("expression '{}': {e}", self.source)),
        }
    }
}

/// The health expressions of one kind.
#[derive(Debug)]
pub struct HealthExprs {
    api_version: String,
    kind: Option<String>,
    current: Expr,
    in_progress: Option<Expr>,
    failed: Option<Expr>,
}

/// Compiles `spec.healthCheckExprs`.
pub fn compile_health(spec: &Value) -> Result<Vec<HealthExprs>, String> {
    let optional = |v: &Value| v.as_str().map(Expr::compile).transpose();
    spec["healthCheckExprs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            Ok(HealthExprs {
                api_version: e["apiVersion"].as_str().unwrap_or_default().to_owned(),
                kind: e["kind"].as_str().map(str::to_owned),
                current: Expr::compile(e["current"].as_str().unwrap_or_default())?,
                in_progress: optional(&e["inProgress"])?,
                failed: optional(&e["failed"])?,
            })
        })
        .collect()
}

/// The health of `object` by the expressions for its kind; none when no expression applies.
/// The object's top-level fields (`metadata`, `spec`, `status`...) are the variables.
pub fn health(exprs: &[HealthExprs], object: &Value) -> Option<Health> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let found = exprs
        .iter()
        .find(|e| e.api_version == api_version && e.kind.as_deref().is_none_or(|k| k == kind))?;
    let vars: Vec<(&str, &Value)> = object
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let verdict = |status: Status, message: String| Health {
        status,
        message,
        conditions: Vec::new(),
    };
    let check = |expr: &Expr| expr.eval(&vars);
    if let Some(failed) = &found.failed
        && check(failed) == Ok(true)
    {
        return Some(verdict(
            Status::Failed,
            format!("failed: {}", failed.source),
        ));
    }
    match check(&found.current) {
        Ok(true) => Some(verdict(
            Status::Current,
            format!("current: {}", found.current.source),
        )),
        Ok(false) => Some(verdict(
            Status::InProgress,
            format!("not yet current: {}", found.current.source),
        )),
        Err(why) => Some(verdict(Status::InProgress, why)),
    }
    .map(|h| {
        // An explicit inProgress expression only refines the message.
        match (&found.in_progress, h.status) {
            (Some(expr), Status::InProgress) if check(expr) == Ok(true) => {
                verdict(Status::InProgress, format!("in progress: {}", expr.source))
            }
            _ => h,
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn health_expressions_decide_by_kind() -> Result<(), String> {
        let spec = json!({ "healthCheckExprs": [{
            "apiVersion": "example.com/v1", "kind": "Widget",
            "current": "status.phase == 'Ready'",
            "failed": "status.phase == 'Broken'",
        }]});
        let exprs = compile_health(&spec)?;
        let widget = |phase: &str| {
            json!({ "apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": { "name": "w" }, "status": { "phase": phase } })
        };
        assert_eq!(
            health(&exprs, &widget("Ready")).map(|h| h.status),
            Some(Status::Current)
        );
        assert_eq!(
            health(&exprs, &widget("Broken")).map(|h| h.status),
            Some(Status::Failed)
        );
        assert_eq!(
            health(&exprs, &widget("Pending")).map(|h| h.status),
            Some(Status::InProgress)
        );
        let no_status = json!({ "apiVersion": "example.com/v1", "kind": "Widget" });
        assert_eq!(
            health(&exprs, &no_status).map(|h| h.status),
            Some(Status::InProgress)
        );
        let other = json!({ "apiVersion": "v1", "kind": "ConfigMap" });
        assert!(health(&exprs, &other).is_none());
        assert!(
            compile_health(
                &json!({ "healthCheckExprs": [{ "apiVersion": "v1", "current": "status.(" }] })
            )
            .is_err()
        );
        Ok(())
    }

    #[test]
    fn ready_expressions_see_self_and_dep() -> Result<(), String> {
        let expr =
            Expr::compile("dep.status.lastAppliedRevision == self.status.lastAttemptedRevision")?;
        let me = json!({ "status": { "lastAttemptedRevision": "main@sha1:1" } });
        let dep = json!({ "status": { "lastAppliedRevision": "main@sha1:1" } });
        assert_eq!(expr.eval(&[("self", &me), ("dep", &dep)]), Ok(true));
        Ok(())
    }
}
