//! Distinct typical agents: the typical agent's request and build record under other names,
//! in a catalog of the harness's own, so each deploy lands in a namespace of its own
//! (the namespace comes from the account and the agent's name).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use astro_deploy::api::DeployRequest;
use astro_deploy::input::parse_document;

/// The name of the typical agent in `examples/`.
const TYPICAL: &str = "support-agent";
/// Its build record in `examples/catalog/astro-team/support-agent/`.
const BUILD: &str = "build-20260301-1200";

/// Writes catalog entries for renamed copies of the typical agent.
pub struct Agents {
    /// The catalog directory (`ACCOUNT/AGENT/BUILD_ID.yaml`) the copies go to.
    pub catalog: PathBuf,
    request: DeployRequest,
    record: String,
}

impl Agents {
    /// Reads the typical agent from `examples`; copies go to `work/catalog`.
    pub fn new(examples: &Path, work: &Path) -> Result<Agents> {
        let request_path = examples.join("support-agent-request.yaml");
        let request = parse_document(
            "request",
            &std::fs::read_to_string(&request_path)
                .with_context(|| format!("reading {}", request_path.display()))?,
        )?;
        let record_path = examples
            .join("catalog/astro-team")
            .join(TYPICAL)
            .join(format!("{BUILD}.yaml"));
        let record = std::fs::read_to_string(&record_path)
            .with_context(|| format!("reading {}", record_path.display()))?;
        let catalog = work.join("catalog");
        std::fs::create_dir_all(&catalog)?;
        Ok(Agents {
            catalog,
            request,
            record,
        })
    }

    /// Adds agent `name` (the typical agent's build under that name) to the catalog and
    /// returns its deploy request.
    pub fn add(&self, name: &str) -> Result<DeployRequest> {
        let dir = self.catalog.join(&self.request.account).join(name);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join(format!("{BUILD}.yaml")),
            self.record.replace(TYPICAL, name),
        )?;
        Ok(DeployRequest {
            name: name.to_string(),
            ..self.request.clone()
        })
    }

    /// [`Self::add`] for each of `names`, as the JSON bodies of `POST /api/v1/deploy`.
    pub fn add_all(&self, names: &[String]) -> Result<Vec<String>> {
        names
            .iter()
            .map(|n| Ok(serde_json::to_string(&self.add(n)?)?))
            .collect()
    }
}
