//! Command-line parsing and the commands. Exit status: 0 success, 1 runtime failure, 2 bad usage
//! or invalid configuration (reason on stderr). `--format json` prints one JSON document on stdout.

mod commands;

use clap::{Args, Parser, Subcommand, ValueEnum};
use signalbox::config::Settings;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "signalbox",
    version,
    about = "Watches AI vendors' documents, triages their changes, serves flags"
)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct GlobalOpts {
    /// Settings file (TOML); see `signalbox default-config`.
    #[arg(long, global = true, env = "SIGNALBOX_CONFIG")]
    config: Option<PathBuf>,
    /// Directory of source declarations.
    #[arg(long, global = true, env = "SIGNALBOX_SOURCES")]
    sources: Option<PathBuf>,
    /// Directory of flag files.
    #[arg(long, global = true, env = "SIGNALBOX_FLAGS")]
    flags: Option<PathBuf>,
    /// Database URL: sqlite://PATH (created when missing) or a file path.
    #[arg(long, global = true, env = "DATABASE_URL")]
    database: Option<String>,
    /// Address of the HTTP server.
    #[arg(long, global = true, env = "SIGNALBOX_LISTEN")]
    listen: Option<String>,
    /// Let sources point at private and loopback addresses (never link-local or metadata).
    #[arg(long, global = true, env = "SIGNALBOX_ALLOW_PRIVATE_NETWORKS", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    allow_private_networks: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BriefFormat {
    Markdown,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Markdown,
    Html,
}

#[derive(Subcommand)]
enum Command {
    /// Run the scheduler and the HTTP server.
    Serve,
    /// Apply the database migrations this version needs, then exit (`serve` also applies them
    /// at start). With --check, only list what is pending: exit 1 when anything is.
    Migrate {
        /// List pending migrations without applying them.
        #[arg(long)]
        check: bool,
    },
    /// Poll sources once, now.
    Check {
        /// Only this source.
        #[arg(long)]
        source: Option<String>,
        /// Fetch and print the extracted text without storing anything (needs --source).
        #[arg(long, requires = "source")]
        dry_run: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Validate or list sources.
    Sources {
        #[command(subcommand)]
        command: SourcesCommand,
    },
    /// The changes of a source, oldest first.
    History {
        source: String,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// The normalized text of a source, now or as it was at a time.
    Show {
        source: String,
        /// RFC 3339 time, `YYYY-MM-DD` or `YYYY-MM-DD HH:MM[:SS]` (UTC).
        #[arg(long)]
        at: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Triage a change between two local files: the brief the server would write.
    Triage {
        before: PathBuf,
        after: PathBuf,
        /// html, markdown, text, feed, statuspage, json, gcp_status, status_feed or flashduty (default:
        /// from the file extension).
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        doc_type: Option<String>,
        #[arg(long)]
        provider: Option<String>,
        /// Extra classification rules (TOML, same shape as the shipped src/triage/rules.toml).
        #[arg(long)]
        rules: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = BriefFormat::Markdown)]
        format: BriefFormat,
    },
    /// Change briefs.
    Briefs {
        #[command(subcommand)]
        command: BriefsCommand,
    },
    /// Validate or list flags.
    Flags {
        #[command(subcommand)]
        command: FlagsCommand,
    },
    /// Create, list or revoke API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Notification helpers.
    Notify {
        #[command(subcommand)]
        command: NotifyCommand,
    },
    /// Run the whole loop offline: a stand-in vendor site changes its documents, signalbox writes
    /// briefs, a playbook fails a route over and back, and you see what an app gets at each step.
    Demo {
        /// Where the demo serves the API.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seconds to pause between steps, to read along.
        #[arg(long, default_value_t = 3)]
        pause: u64,
        /// Stop when the script is done instead of serving until Ctrl-C.
        #[arg(long)]
        exit_when_done: bool,
        /// Keep the demo's database and files in this (empty) directory, e.g. to run
        /// `signalbox report` on them afterwards.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Write an evidence bundle (snapshots, diff, brief, decisions, audit chain, manifest), or
    /// check one with `evidence verify FILE`.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Evidence {
        #[command(subcommand)]
        command: Option<EvidenceCommand>,
        #[command(flatten)]
        of: EvidenceOf,
        /// With --source: the time the version in force is wanted for (RFC 3339, or YYYY-MM-DD
        /// for the end of that day, UTC).
        #[arg(long, requires = "source")]
        at: Option<String>,
        /// Where to write the archive (default: its folder name + .tar.gz, here).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// The impact summary for a period: changes, decisions, fallbacks, deadlines, price rises.
    Report {
        /// Start of the period: a duration back from now (7d, 30d) or an RFC 3339 time.
        #[arg(long, default_value = "7d")]
        since: String,
        #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
        format: ReportFormat,
    },
    /// Print a commented example settings file.
    DefaultConfig,
}

/// What an evidence bundle is about: exactly one of these.
#[derive(Args)]
#[group(required = true, multiple = false)]
struct EvidenceOf {
    /// A change brief, with its change, snapshots, decisions and audit events.
    #[arg(long)]
    brief: Option<i64>,
    /// A decision, and the brief it answers.
    #[arg(long)]
    decision: Option<i64>,
    /// A source: the version in force at --at, and the change that brought it.
    #[arg(long, requires = "at")]
    source: Option<String>,
}

#[derive(Subcommand)]
enum EvidenceCommand {
    /// Check an evidence archive: every file against its manifest, the audit chain from its
    /// anchor. Exit 1 and name the first problem if anything does not hold.
    Verify {
        path: PathBuf,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

#[derive(Subcommand)]
enum NotifyCommand {
    /// Print a new Standard Webhooks secret (`whsec_...`) for a webhook sink.
    Secret,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain from the first event; exit 1 and name the first broken link if any.
    Verify {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Audit events, oldest first.
    List {
        /// Events at or after this time (RFC 3339, or a duration back from now such as 7d, 12h).
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        actor: Option<String>,
        /// brief, decision, token, flags, source, playbook, service.
        #[arg(long)]
        object_type: Option<String>,
        #[arg(long)]
        object_id: Option<String>,
        /// An action (decision.approved) or a prefix ending in a dot (decision.).
        #[arg(long)]
        action: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

#[derive(Subcommand)]
enum BriefsCommand {
    /// Briefs, newest first (all of them, or filtered).
    List {
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        severity: Option<String>,
        /// Only material briefs.
        #[arg(long)]
        material: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Acknowledge a brief (someone is on it).
    Ack {
        id: i64,
        /// Who acts (default: $USER).
        #[arg(long, env = "USER", default_value = "cli")]
        actor: String,
    },
    /// Dismiss a brief, with the reason.
    Dismiss {
        id: i64,
        #[arg(long)]
        reason: String,
        #[arg(long, env = "USER", default_value = "cli")]
        actor: String,
    },
    /// Close a decided or dismissed brief.
    Close {
        id: i64,
        #[arg(long, env = "USER", default_value = "cli")]
        actor: String,
    },
    /// One brief in full.
    Show {
        id: i64,
        #[arg(long, value_enum, default_value_t = BriefFormat::Markdown)]
        format: BriefFormat,
    },
}

#[derive(Subcommand)]
enum FlagsCommand {
    /// Check every flag file and report every problem with file and path.
    Validate {
        /// Directory to check (default: the configured flags directory).
        dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Flags with their default variant and the apps that evaluated them recently.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once, only its hash is stored.
    Create {
        #[arg(long)]
        name: String,
        /// flags:read, briefs:write, decisions:propose, decisions:approve, audit:read, admin (comma-separated).
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<String>,
        /// The environment the token is bound to.
        #[arg(long, default_value = "development")]
        env: String,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Every token (never the token itself).
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Revoke a token by name or id; running servers stop accepting it within seconds.
    Revoke { name: String },
}

#[derive(Subcommand)]
enum SourcesCommand {
    /// Check every source file and report every problem with file and line.
    Validate {
        /// Directory to check (default: the configured sources directory).
        dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Sources and their health.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// The catalogue of source files as a Markdown table (the one in docs/sources.md).
    Catalogue {
        /// Directory to read (default: the configured sources directory).
        dir: Option<PathBuf>,
    },
}

/// Why a command failed, and so which exit status it gets.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage or invalid configuration: exit 2.
    Usage(String),
    /// Something went wrong at run time: exit 1.
    Runtime(String),
}

impl Failure {
    fn from_app(e: signalbox::server::AppError) -> Failure {
        if e.is_config() {
            Failure::Usage(e.to_string())
        } else {
            Failure::Runtime(e.to_string())
        }
    }
}

fn settings(g: &GlobalOpts) -> Result<Settings, Failure> {
    let mut s = match &g.config {
        Some(path) => Settings::from_file(path).map_err(|e| Failure::Usage(e.to_string()))?,
        None => Settings::default(),
    };
    if let Some(v) = &g.sources {
        s.sources = v.clone();
    }
    if let Some(v) = &g.flags {
        s.flags = v.clone();
    }
    if let Some(v) = &g.database {
        s.database = v.clone();
    }
    if let Some(v) = &g.listen {
        s.listen = v.clone();
    }
    // A secret shared by replicas: from the environment (a secret store), not the command line,
    // where every process listing would show it.
    if let Ok(v) = std::env::var("SIGNALBOX_SSE_SECRET")
        && !v.is_empty()
    {
        s.serving.sse_secret = v;
    }
    // A flag can only switch it on; the settings file may also switch it on.
    if g.allow_private_networks {
        s.allow_private_networks = true;
    }
    Ok(s)
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never in files or log collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(if matches!(cli.command, Command::Serve) {
        "info"
    } else {
        "warn"
    });
    let result = settings(&cli.global).and_then(|s| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::Runtime(format!("cannot start the runtime: {e}")))?;
        rt.block_on(commands::run(cli.command, s))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("signalbox: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(m)) => {
            eprintln!("signalbox: {m}");
            ExitCode::from(1)
        }
    }
}
