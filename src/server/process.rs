//! The standard Prometheus process metrics (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `process_open_fds`, …), read from `/proc/self` at each scrape, as the official client libraries
//! export them: a dashboard or alert written for any Prometheus-instrumented service works here too.
//!
//! Linux only, like the rest of the server's operations code; where `/proc` cannot be read the series
//! are left out rather than reported as zero.

use std::fmt::Write as _;

/// One reading of the process's counters.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub open_fds: u64,
    pub max_fds: Option<u64>,
    /// Seconds since the Unix epoch.
    pub start_time_seconds: f64,
    pub threads: u64,
}

/// Why `/proc` could not be read (the metrics are then left out).
#[derive(Debug, thiserror::Error)]
pub enum ProcessStatsError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot parse `{path}`: {what}")]
    Parse {
        path: &'static str,
        what: &'static str,
    },
}

/// Read this process's statistics now.
///
/// # Errors
///
/// When `/proc/self/stat`, `/proc/stat` or `/proc/self/fd` cannot be read or parsed.
pub fn read() -> Result<ProcessStats, ProcessStatsError> {
    let stat = read_text("/proc/self/stat")?;
    let boot = read_text("/proc/stat")?;
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .map_err(|source| ProcessStatsError::Read {
            path: "/proc/self/fd",
            source,
        })?
        .count() as u64;
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    // SAFETY: as above.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let ticks = u64::try_from(ticks)
        .ok()
        .filter(|ticks| *ticks > 0)
        .unwrap_or(100);
    let page = u64::try_from(page)
        .ok()
        .filter(|page| *page > 0)
        .unwrap_or(4096);
    let fields = stat_fields(&stat)?;
    let boot_time = boot_time(&boot)?;
    Ok(ProcessStats {
        cpu_seconds: ratio(fields.utime + fields.stime, ticks),
        resident_bytes: fields.rss_pages.saturating_mul(page),
        virtual_bytes: fields.vsize,
        open_fds,
        max_fds: max_fds(),
        start_time_seconds: ratio(boot_time.saturating_mul(ticks) + fields.starttime, ticks),
        threads: fields.threads,
    })
}

fn read_text(path: &'static str) -> Result<String, ProcessStatsError> {
    std::fs::read_to_string(path).map_err(|source| ProcessStatsError::Read { path, source })
}

/// The fields of `/proc/self/stat` used here (proc_pid_stat(5), numbered from 1).
#[derive(Debug, PartialEq, Eq)]
struct StatFields {
    utime: u64,
    stime: u64,
    threads: u64,
    /// Clock ticks after boot.
    starttime: u64,
    vsize: u64,
    rss_pages: u64,
}

/// Parse `/proc/self/stat`. The command name (field 2) is in parentheses and may itself hold spaces
/// and `)`, so fields are counted from the last `)`.
fn stat_fields(text: &str) -> Result<StatFields, ProcessStatsError> {
    let parse = |what| ProcessStatsError::Parse {
        path: "/proc/self/stat",
        what,
    };
    let rest = text
        .rfind(')')
        .map(|end| &text[end + 1..])
        .ok_or_else(|| parse("no `)` after the command name"))?;
    // `rest` starts at field 3 (state).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |number: usize, what| {
        fields
            .get(number - 3)
            .and_then(|value| value.parse::<u64>().ok())
            .ok_or_else(|| parse(what))
    };
    Ok(StatFields {
        utime: field(14, "utime")?,
        stime: field(15, "stime")?,
        threads: field(20, "num_threads")?,
        starttime: field(22, "starttime")?,
        vsize: field(23, "vsize")?,
        rss_pages: field(24, "rss")?,
    })
}

/// `btime` of `/proc/stat`: the boot time, in seconds since the epoch.
fn boot_time(text: &str) -> Result<u64, ProcessStatsError> {
    text.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
        .ok_or(ProcessStatsError::Parse {
            path: "/proc/stat",
            what: "btime",
        })
}

/// The soft open-file limit.
fn max_fds() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and nothing else.
    let status = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) };
    (status == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

#[allow(clippy::cast_precision_loss)] // tick counts stay far below 2^52
fn ratio(count: u64, per_second: u64) -> f64 {
    count as f64 / per_second as f64
}

/// Append the process metrics in the Prometheus text format; nothing when `/proc` cannot be read.
pub fn render(out: &mut String) {
    let stats = match read() {
        Ok(stats) => stats,
        Err(error) => {
            tracing::warn!(%error, "process metrics left out");
            return;
        }
    };
    let series: [(&str, &str, &str, Option<String>); 7] = [
        (
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            Some(stats.cpu_seconds.to_string()),
        ),
        (
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            Some(stats.resident_bytes.to_string()),
        ),
        (
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            Some(stats.virtual_bytes.to_string()),
        ),
        (
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            Some(stats.open_fds.to_string()),
        ),
        (
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            stats.max_fds.map(|max| max.to_string()),
        ),
        (
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            Some(stats.start_time_seconds.to_string()),
        ),
        (
            "process_threads",
            "gauge",
            "Number of OS threads in the process.",
            Some(stats.threads.to_string()),
        ),
    ];
    for (name, kind, help, value) in series {
        if let Some(value) = value {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{StatFields, boot_time, read, stat_fields};

    #[test]
    fn stat_fields_count_from_the_last_parenthesis() {
        // A command name with a space and a `)` in it, as a process can name itself.
        let line = "4242 (fave (x) lock) S 1 4242 4242 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 7 0 \
                    123456 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 4096 17415 0 0 0 17 1 0 0";
        assert_eq!(
            stat_fields(line).unwrap(),
            StatFields {
                utime: 150,
                stime: 25,
                threads: 7,
                starttime: 123_456,
                vsize: 987_654_321,
                rss_pages: 2048,
            }
        );
        assert!(stat_fields("4242 (cut").is_err());
        assert!(stat_fields("4242 (short) S 1 2").is_err());
        assert_eq!(
            boot_time("cpu 1 2\nbtime 1700000000\n").unwrap(),
            1_700_000_000
        );
        assert!(boot_time("cpu 1 2\n").is_err());
    }

    /// The live reading agrees with what the kernel says elsewhere: this test's own descriptors and
    /// threads exist, it started within the last hour of now, and it holds some memory.
    #[test]
    fn reads_this_process() {
        let stats = read().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(stats.start_time_seconds <= now + 1.0, "{stats:?}");
        assert!(stats.start_time_seconds > now - 3600.0, "{stats:?}");
        assert!(stats.open_fds >= 3, "{stats:?}");
        assert!(stats.threads >= 1, "{stats:?}");
        assert!(stats.resident_bytes > 1024 * 1024, "{stats:?}");
        assert!(stats.virtual_bytes >= stats.resident_bytes, "{stats:?}");
        assert!(stats.cpu_seconds >= 0.0, "{stats:?}");
    }
}
