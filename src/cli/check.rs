//! `fave-lock check`: builds the clients, runs the library's check ([`fave_lock::check::run`]) and
//! renders its report as human lines, JSON, GitHub annotations or JUnit; the verdict is the exit code.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use fave_lock::check::{
    CheckClients, CheckOptions, CheckReport, Code, FileLocation, Finding, Severity, Verdict,
};
use fave_lock::config::{self, Config};
use fave_lock::registry::{CredentialStore, RegistryClient, RegistryOptions};

use super::ExitStatus;

/// `fave-lock check`: exit 0 fresh, 1 stale, 2 error (config, I/O, network), 3 integrity failure.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Images of the config to check (default: all).
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
    #[command(flatten)]
    pub config: super::args::ConfigArg,
    /// Count informational findings (newer releases within policy) as stale.
    #[arg(long)]
    pub strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    #[command(flatten)]
    pub index_url: super::args::IndexUrlArg,
    // `--offline` runs only the local checks (inputs, lock format, missing files) and the diff from
    // the cache.
    #[command(flatten)]
    pub cache: super::args::CacheArgs,
    /// Skip the registry checks (base drift, published image not rebuilt).
    #[arg(long)]
    pub no_registry: bool,
    /// Skip the per-package diff of stale images (it resolves them in memory).
    #[arg(long)]
    pub no_diff: bool,
    /// Skip the Debian archive checks of `apt.lock` (dropped versions, security updates); its local
    /// checks still run.
    #[arg(long)]
    pub no_apt: bool,
    #[command(flatten)]
    pub timeout: super::TimeoutArg,
}

/// How findings are rendered on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    /// One finding a line, with its reason and the fixing command (`human`, its old name, still works).
    #[value(alias = "human")]
    Text,
    /// One JSON document.
    Json,
    /// GitHub Actions workflow annotations (`::error file=…,line=…::…`).
    Github,
    /// JUnit XML: one test case per image and check.
    Junit,
}

pub async fn run(args: CheckArgs) -> anyhow::Result<ExitStatus> {
    let config = config::load(&args.config.path)?;
    // Freshness is the question: a cached page is not trusted unless `--cache-ttl` says so.
    let index = Arc::new(args.cache.index_client(
        config.effective_index_url(args.index_url.url.as_deref()),
        32,
        Duration::ZERO,
    )?);
    let registry = RegistryClient::new(RegistryOptions {
        insecure: insecure_registries(&config),
        credentials: CredentialStore::from_environment(),
        ..RegistryOptions::default()
    })?;
    let options = CheckOptions {
        images: args.images.clone(),
        index_url: args.index_url.url.clone(),
        offline: args.cache.offline,
        strict: args.strict,
        registry: !args.no_registry,
        diff: !args.no_diff,
        apt: !args.no_apt,
    };
    let clients = CheckClients {
        index: &index,
        registry: &registry,
    };
    let report = fave_lock::check::run(&config, clients, &options).await?;
    let text = match args.format {
        CheckFormat::Text => render_text(&report),
        CheckFormat::Json => report.to_json(),
        CheckFormat::Github => render_github(&report),
        CheckFormat::Junit => render_junit(&report),
    };
    print!("{text}");
    Ok(match report.status {
        Verdict::Fresh => ExitStatus::Success,
        Verdict::Stale => ExitStatus::Finding,
        Verdict::Integrity => ExitStatus::Integrity,
    })
}

/// The registries the config marks `registry-insecure` (plain http allowed).
pub(crate) fn insecure_registries(config: &Config) -> Vec<String> {
    config
        .images
        .iter()
        .filter(|image| image.registry_insecure)
        .filter_map(|image| {
            image
                .registry
                .as_deref()?
                .split('/')
                .next()
                .map(str::to_string)
        })
        .collect()
}

fn subject(finding: &Finding) -> String {
    match (&finding.package, &finding.version) {
        (Some(package), Some(version)) => format!("{package}=={version}: "),
        (Some(package), None) => format!("{package}: "),
        _ => String::new(),
    }
}

fn render_text(report: &CheckReport) -> String {
    let strict = report.strict;
    let mut out = String::new();
    for report in &report.images {
        if report.status == Verdict::Fresh {
            out.push_str(&format!("{}: fresh\n", report.image));
        }
        for finding in &report.findings {
            out.push_str(&format!(
                "{} [{}] {}: {}{}; fix: {}\n",
                finding.effective(strict).as_str(),
                finding.code,
                finding.image,
                subject(finding),
                finding.reason,
                finding.fix
            ));
        }
        for change in &report.changes {
            out.push_str(&format!(
                "  {} {} → {} ({})\n",
                change.package,
                versions(&change.old),
                versions(&change.new),
                change.reason.as_str()
            ));
        }
        if let Some(error) = &report.diff_error {
            out.push_str(&format!("  (no per-package diff: {error})\n"));
        }
    }
    out
}

fn versions(list: &[String]) -> String {
    if list.is_empty() {
        "(none)".to_string()
    } else {
        list.join(", ")
    }
}

/// GitHub workflow command escaping: data escapes `%`, CR and LF; properties also `:` and `,`.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn render_github(report: &CheckReport) -> String {
    let strict = report.strict;
    let mut out = String::new();
    for report in &report.images {
        for finding in &report.findings {
            let level = match finding.effective(strict) {
                Severity::Info => "notice",
                Severity::Stale | Severity::Integrity => "error",
            };
            let message = format!(
                "{}: {}{}. Fix: {}",
                finding.image,
                subject(finding),
                finding.reason,
                finding.fix
            );
            out.push_str(&annotation(
                level,
                finding,
                finding.location.as_ref(),
                &message,
            ));
            if !matches!(finding.code, Code::InputsChanged | Code::LockFormatChanged) {
                continue;
            }
            // One more annotation on the input line of each top-level package the change moves.
            for change in &report.changes {
                let Some(location) = report.input_lines.get(&change.package) else {
                    continue;
                };
                let message = format!(
                    "{}: {} {} → {} ({}). Fix: {}",
                    finding.image,
                    change.package,
                    versions(&change.old),
                    versions(&change.new),
                    change.reason.as_str(),
                    finding.fix
                );
                out.push_str(&annotation(level, finding, Some(location), &message));
            }
        }
    }
    out
}

/// One workflow command: `::error file=…,line=…,title=…::message`.
fn annotation(
    level: &str,
    finding: &Finding,
    location: Option<&FileLocation>,
    message: &str,
) -> String {
    let mut properties = Vec::new();
    if let Some(location) = location {
        properties.push(format!(
            "file={}",
            escape_property(&location.path.display().to_string())
        ));
        if let Some(line) = location.line {
            properties.push(format!("line={line}"));
        }
    }
    properties.push(format!(
        "title={}",
        escape_property(&format!(
            "fave-lock check: {} ({})",
            finding.code, finding.image
        ))
    ));
    format!(
        "::{level} {}::{}\n",
        properties.join(","),
        escape_data(message)
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Which JUnit test case (check) a finding belongs to.
fn check_of(code: Code) -> &'static str {
    match code {
        Code::InputsChanged | Code::LockFormatChanged | Code::LockMissing => "inputs",
        Code::Yanked
        | Code::IndexHashMismatch
        | Code::NotOnIndex
        | Code::NewerRelease
        | Code::SecurityUpdate => "index",
        Code::BaseDrift | Code::NotRebuilt | Code::SbomMissing => "registry",
        // `check` reports no other code; were one added, it still lands in a case.
        _ => "other",
    }
}

fn render_junit(report: &CheckReport) -> String {
    let strict = report.strict;
    let mut cases = String::new();
    let (mut tests, mut failures) = (0, 0);
    for report in &report.images {
        for check in &report.checks {
            tests += 1;
            let findings: Vec<&Finding> = report
                .findings
                .iter()
                .filter(|f| check_of(f.code) == *check)
                .collect();
            let failing: Vec<&&Finding> = findings
                .iter()
                .filter(|f| f.effective(strict) != Severity::Info)
                .collect();
            cases.push_str(&format!(
                "    <testcase classname=\"fave-lock.{}\" name=\"{}\">\n",
                xml_escape(&report.image),
                check
            ));
            if !failing.is_empty() {
                failures += 1;
                let codes: BTreeSet<&str> = failing.iter().map(|f| f.code.as_str()).collect();
                let body: Vec<String> = failing
                    .iter()
                    .map(|f| {
                        format!(
                            "{} [{}] {}{}; fix: {}",
                            f.effective(strict).as_str(),
                            f.code,
                            subject(f),
                            f.reason,
                            f.fix
                        )
                    })
                    .collect();
                cases.push_str(&format!(
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>\n",
                    xml_escape(&codes.into_iter().collect::<Vec<_>>().join(" ")),
                    xml_escape(&body[0]),
                    xml_escape(&body.join("\n"))
                ));
            }
            let info: Vec<String> = findings
                .iter()
                .filter(|f| f.effective(strict) == Severity::Info)
                .map(|f| format!("info [{}] {}{}", f.code, subject(f), f.reason))
                .collect();
            if !info.is_empty() {
                cases.push_str(&format!(
                    "      <system-out>{}</system-out>\n",
                    xml_escape(&info.join("\n"))
                ));
            }
            cases.push_str("    </testcase>\n");
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"{tests}\" failures=\"{failures}\">\n  <testsuite name=\"fave-lock check\" tests=\"{tests}\" failures=\"{failures}\">\n{cases}  </testsuite>\n</testsuites>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escaping() {
        assert_eq!(escape_data("a%b\nc"), "a%25b%0Ac");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
