//! Per-object results of a deploy, as the platform's `DeployResponse` lists them.

use astro_deploy::api::{ResourceAction, ResourceResult};
use astro_deploy::resolve::Kind;

/// The result entry of object `name` of `kind` in namespace `ns`.
pub fn object_result(
    kind: Kind,
    name: &str,
    ns: &str,
    action: ResourceAction,
    message: Option<String>,
) -> ResourceResult {
    ResourceResult {
        kind: kind.as_str().to_string(),
        name: name.to_string(),
        namespace: ns.to_string(),
        action,
        message,
    }
}

/// Every object's result, and one error line per failed object naming it.
#[derive(Debug, Default)]
pub struct Results {
    /// Every object and its action, in apply order, pruned ones last.
    pub resources: Vec<ResourceResult>,
    /// One line per failed object, naming it.
    pub errors: Vec<String>,
}

impl Results {
    /// Adds one object's result; a failure also becomes an `errors` line naming the object.
    pub fn record(&mut self, res: ResourceResult) {
        if res.action == ResourceAction::Failed {
            self.errors.push(format!(
                "{}/{}: {}",
                res.kind,
                res.name,
                res.message.clone().unwrap_or_default()
            ));
        }
        self.resources.push(res);
    }
}
