//! The built-in provider registry (Astropods spec Appendix A, with the platform code's images and
//! env prefixes where the RFC is silent).

/// Which spec section a provider serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `models`
    Models,
    /// `knowledge`
    Knowledge,
    /// `integrations`
    Integrations,
}

impl Section {
    /// The section's key in `astropods.yml` (also a custom provider's `scope` value).
    pub fn key(self) -> &'static str {
        match self {
            Section::Models => "models",
            Section::Knowledge => "knowledge",
            Section::Integrations => "integrations",
        }
    }

    /// The word used in resource names and labels: `model`, `knowledge`, `integration`.
    pub fn singular(self) -> &'static str {
        match self {
            Section::Models => "model",
            Section::Knowledge => "knowledge",
            Section::Integrations => "integration",
        }
    }

    /// Prefix of container-mode env keys (Astropods spec §8.3): `MODEL`, `KNOWLEDGE`, `INTEGRATION`.
    pub fn env_prefix(self) -> &'static str {
        match self {
            Section::Models => "MODEL",
            Section::Knowledge => "KNOWLEDGE",
            Section::Integrations => "INTEGRATION",
        }
    }
}

/// How the health of a self-hosted provider is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// HTTP GET on the primary port.
    Http(&'static str),
    /// Exec command.
    Exec(&'static [&'static str]),
}

/// The user a provider's image runs as, which decides the Pod Security level of its pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageUser {
    /// The image can run as a fixed non-root user: the pod runs as `user`, its volume is
    /// owned by `fs_group`, and it meets Pod Security "restricted".
    NonRoot {
        /// UID of the image's own user.
        user: i64,
        /// GID of that user's group, given to the data volume.
        fs_group: i64,
        /// Where the numbers come from.
        source: &'static str,
    },
    /// The image runs as root (or we do not know better): the pod stays "baseline".
    Root {
        /// Why.
        reason: &'static str,
    },
}

/// A platform-run provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelfHosted {
    /// Container image.
    pub image: &'static str,
    /// Primary port (the one the Service exposes first).
    pub port: u16,
    /// Name of the primary port.
    pub port_name: &'static str,
    /// Port the agent connects to (HOST/PORT/URL env vars), usually `port`.
    pub client_port: u16,
    /// Additional named ports.
    pub extra_ports: &'static [(&'static str, u16)],
    /// Data directory; a provider with one is persistent.
    pub mount_path: &'static str,
    /// Health check.
    pub health: Health,
    /// Env-var prefix of connection details (`QDRANT` → `QDRANT_HOST`).
    pub env_prefix: &'static str,
    /// URL scheme, when the provider has a URL form.
    pub url_scheme: Option<&'static str>,
    /// Default container env.
    pub env: &'static [(&'static str, &'static str)],
    /// Whether the platform generates credentials for it (postgres, redis, mysql).
    pub generated_credentials: bool,
    /// Whether it wants a GPU.
    pub gpu: bool,
    /// The user its image runs as.
    pub user: ImageUser,
}

/// A provider reached over the internet with a user credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cloud {
    /// Credential key suffix: `API_KEY`, `TOKEN`.
    pub suffix: &'static str,
}

/// A built-in provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// Run by the platform.
    SelfHosted(SelfHosted),
    /// External service; only a credential is injected.
    Cloud(Cloud),
    /// The Astro AI Gateway: deploys nothing, needs the gateway credentials.
    Gateway,
}

const API_KEY: Builtin = Builtin::Cloud(Cloud { suffix: "API_KEY" });
const TOKEN: Builtin = Builtin::Cloud(Cloud { suffix: "TOKEN" });

/// Looks up a built-in provider of `section` by name.
pub fn builtin(section: Section, name: &str) -> Option<Builtin> {
    match (section, name) {
        (Section::Models, "anthropic" | "openai" | "google" | "gemini" | "cohere") => Some(API_KEY),
        (Section::Models, "gateway") => Some(Builtin::Gateway),
        (Section::Models, "ollama") => Some(Builtin::SelfHosted(SelfHosted {
            image: "ollama/ollama:latest",
            port: 11434,
            port_name: "http",
            client_port: 11434,
            extra_ports: &[],
            mount_path: "/root/.ollama",
            health: Health::Http("/api/tags"),
            env_prefix: "OLLAMA",
            url_scheme: Some("http"),
            env: &[("OLLAMA_HOST", "0.0.0.0"), ("OLLAMA_KEEP_ALIVE", "-1")],
            generated_credentials: false,
            gpu: true,
            user: ImageUser::Root {
                reason: "ollama/ollama runs as root and keeps its models in /root/.ollama \
                         (its Dockerfile sets no USER)",
            },
        })),
        (Section::Knowledge, "qdrant") => Some(Builtin::SelfHosted(SelfHosted {
            image: "qdrant/qdrant:latest",
            port: 6333,
            port_name: "http",
            client_port: 6333,
            extra_ports: &[("grpc", 6334)],
            mount_path: "/qdrant/storage",
            health: Health::Http("/healthz"),
            env_prefix: "QDRANT",
            url_scheme: Some("http"),
            env: &[],
            generated_credentials: false,
            gpu: false,
            user: ImageUser::Root {
                reason: "qdrant/qdrant is built with USER_ID=0 (root) unless built with \
                         another USER_ID, as its -unprivileged tags are; its snapshot \
                         directory belongs to root",
            },
        })),
        (Section::Knowledge, "redis") => Some(Builtin::SelfHosted(SelfHosted {
            image: "redis:7-alpine",
            port: 6379,
            port_name: "redis",
            client_port: 6379,
            extra_ports: &[],
            mount_path: "/data",
            health: Health::Exec(&[
                "sh",
                "-c",
                "redis-cli -a \"$REDIS_PASSWORD\" --no-auth-warning ping",
            ]),
            env_prefix: "REDIS",
            url_scheme: Some("redis"),
            env: &[],
            generated_credentials: true,
            gpu: false,
            user: ImageUser::NonRoot {
                user: 999,
                fs_group: 1000,
                source: "docker-library/redis Dockerfile (alpine variant): \
                         addgroup -S -g 1000 redis; adduser -S -G redis -u 999 redis; \
                         the entrypoint steps down from root only when it is root",
            },
        })),
        (Section::Knowledge, "postgres") => Some(Builtin::SelfHosted(SelfHosted {
            image: "pgvector/pgvector:pg17",
            port: 5432,
            port_name: "postgres",
            client_port: 5432,
            extra_ports: &[],
            mount_path: "/var/lib/postgresql/data",
            health: Health::Exec(&["sh", "-c", "pg_isready -U \"$POSTGRES_USER\""]),
            env_prefix: "POSTGRES",
            url_scheme: None,
            env: &[("PGDATA", "/var/lib/postgresql/data/pgdata")],
            generated_credentials: true,
            gpu: false,
            user: ImageUser::NonRoot {
                user: 999,
                fs_group: 999,
                source: "pgvector/pgvector is FROM postgres; docker-library/postgres \
                         Dockerfile: groupadd -r postgres --gid=999; useradd -r -g postgres \
                         --uid=999; the entrypoint runs as any user that owns PGDATA",
            },
        })),
        (Section::Knowledge, "neo4j") => Some(Builtin::SelfHosted(SelfHosted {
            image: "neo4j:5-community",
            port: 7474,
            port_name: "http",
            client_port: 7687,
            extra_ports: &[("bolt", 7687)],
            mount_path: "/data",
            health: Health::Http("/"),
            env_prefix: "NEO4J",
            url_scheme: Some("bolt"),
            env: &[("NEO4J_AUTH", "none")],
            generated_credentials: false,
            gpu: false,
            user: ImageUser::NonRoot {
                user: 7474,
                fs_group: 7474,
                source: "neo4j/docker-neo4j Dockerfile: groupadd --gid 7474 --system neo4j; \
                         useradd --uid 7474 --gid neo4j neo4j; the entrypoint runs as a \
                         non-root user that can write /data",
            },
        })),
        (Section::Knowledge, "mysql") => Some(Builtin::SelfHosted(SelfHosted {
            image: "mysql:8.0",
            port: 3306,
            port_name: "mysql",
            client_port: 3306,
            extra_ports: &[],
            mount_path: "/var/lib/mysql",
            health: Health::Exec(&["sh", "-c", "mysqladmin ping -h 127.0.0.1 --silent"]),
            env_prefix: "MYSQL",
            url_scheme: None,
            env: &[("MYSQL_RANDOM_ROOT_PASSWORD", "yes")],
            generated_credentials: true,
            gpu: false,
            user: ImageUser::NonRoot {
                user: 999,
                fs_group: 999,
                source: "docker-library/mysql Dockerfile: groupadd --system --gid 999 mysql; \
                         useradd --system --uid 999 --gid 999 mysql; the entrypoint chowns \
                         only when it is root",
            },
        })),
        (Section::Knowledge, "pinecone") => Some(API_KEY),
        (Section::Integrations, "github" | "gitlab") => Some(TOKEN),
        _ => None,
    }
}

/// Whether `name` is built in for any section (a custom provider of that name is ignored in
/// favour of the built-in, as the platform does).
pub fn is_builtin_anywhere(name: &str) -> bool {
    [Section::Models, Section::Knowledge, Section::Integrations]
        .into_iter()
        .any(|s| builtin(s, name).is_some())
}
